package edge_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/edge/tlscert"
)

// testCA issues certificates into files, as a user's CA would.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
	n    int64
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool, n: 100}
}

// issue writes site.crt and site.key for names into dir.
func (ca *testCA) issue(t *testing.T, dir string, names ...string) tlscert.Config {
	t.Helper()
	ca.n++
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(ca.n), DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	c := tlscert.Config{CertFile: filepath.Join(dir, "site.crt"), KeyFile: filepath.Join(dir, "site.key")}
	os.WriteFile(c.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(c.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	return c
}

func TestTLSConfigValidation(t *testing.T) {
	dir := t.TempDir()
	good := newTestCA(t).issue(t, dir, "localhost")
	for name, tc := range map[string]struct {
		set  func(c *edge.Config)
		want string
	}{
		"tls_listen without tls": {func(c *edge.Config) { c.TLSListen = []string{"127.0.0.1:8443"} }, "edge.tls_listen: is set but edge.tls is off"},
		"tls without tls_listen": {func(c *edge.Config) { c.TLS = tlscert.Config{Internal: true} }, "edge.tls: is set but edge.tls_listen is empty"},
		"bad address": {func(c *edge.Config) {
			c.TLS, c.TLSListen = good, []string{"8443"}
		}, `edge.tls_listen[0]: "8443" is not host:port`},
		"also plain": {func(c *edge.Config) {
			c.TLS, c.TLSListen = good, []string{c.Listen[0]}
		}, "edge.tls_listen[0]: \"127.0.0.1:8000\" is also listen[0]"},
		"missing cert file": {func(c *edge.Config) {
			c.TLS, c.TLSListen = tlscert.Config{CertFile: filepath.Join(dir, "none.crt"), KeyFile: good.KeyFile}, []string{"127.0.0.1:8443"}
		}, "edge.tls: cert_file " + filepath.Join(dir, "none.crt")},
		"key only": {func(c *edge.Config) {
			c.TLS, c.TLSListen = tlscert.Config{KeyFile: good.KeyFile}, []string{"127.0.0.1:8443"}
		}, "edge.tls.cert_file: missing"},
		"redirect without tls": {func(c *edge.Config) { c.TLSRedirect = true }, "edge.tls_redirect: is true but edge.tls_listen is empty"},
		"negative hsts": {func(c *edge.Config) {
			c.TLS, c.TLSListen, c.HSTS.MaxAge = good, []string{"127.0.0.1:8443"}, -time.Second
		}, "edge.hsts.max_age: must not be negative"},
		"preload too short": {func(c *edge.Config) {
			c.TLS, c.TLSListen, c.HSTS = good, []string{"127.0.0.1:8443"}, edge.HSTSConfig{MaxAge: time.Hour, Preload: true}
		}, "edge.hsts.preload: needs max_age of at least 8760h"},
	} {
		cfg := proxyConfig("unix:/nonexistent.sock")
		tc.set(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate says %v, want %q", name, err, tc.want)
		}
	}
	cfg := proxyConfig("unix:/nonexistent.sock")
	cfg.TLS, cfg.TLSListen, cfg.TLSRedirect = good, []string{"127.0.0.1:8443"}, true
	cfg.HSTS = edge.HSTSConfig{MaxAge: 8760 * time.Hour, IncludeSubdomains: true, Preload: true}
	if err := cfg.Validate(); err != nil {
		t.Errorf("a valid TLS configuration refused: %v", err)
	}
}

// Over TLS a FastCGI server (PHP's $_SERVER['HTTPS']) hears HTTPS=on, as
// from nginx's fastcgi_params.
func TestTLSFastCGIParamsSayHTTPS(t *testing.T) {
	got := make(chan map[string]string, 2)
	sock := startFakeFastCGI(t, func(c net.Conn, r *fcgiRequest) {
		got <- r.params
		c.Write(fcgiStdout("Content-Type: text/plain\r\n\r\nok"))
	})
	te := startTLSEdge(t, fastcgiConfig(sock, "/srv/www"))
	_, port, _ := net.SplitHostPort(te.secure)
	for _, h2 := range []bool{true, false} {
		c := te.client(h2)
		defer c.CloseIdleConnections()
		resp, err := c.Get("https://" + te.secure + "/index.php")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		p := <-got
		for k, want := range map[string]string{"HTTPS": "on", "REQUEST_SCHEME": "https", "SERVER_PORT": port, "HTTP_X_FORWARDED_PROTO": "https"} {
			if p[k] != want {
				t.Errorf("h2=%v: %s = %q, want %q", h2, k, p[k], want)
			}
		}
	}
}

// A 1 KiB static file over TLS on one kept connection, HTTP/2 and
// HTTP/1.1 (the handshake is paid once): compare with
// BenchmarkStaticThroughEdge for what TLS costs per request.
func BenchmarkTLSStaticThroughEdge(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "1k.bin"), make([]byte, 1024), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg := edge.DefaultConfig()
	cfg.Locations = []edge.LocationConfig{{Path: "/files/", Root: dir}}
	cfg.AccessLog = "off"
	te := startTLSEdge(b, cfg)
	for _, h2 := range []bool{true, false} {
		b.Run(map[bool]string{true: "h2", false: "http1.1"}[h2], func(b *testing.B) {
			c := te.client(h2)
			defer c.CloseIdleConnections()
			url := "https://" + te.secure + "/files/1k.bin"
			b.ReportAllocs()
			for b.Loop() {
				resp, err := c.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}

// A reload opens and closes TLS listeners as it does plain ones.
func TestTLSReloadAddsAndRemovesTLSListeners(t *testing.T) {
	cfg := uwsgiConfig(startApp(t, http.HandlerFunc(echoHandler)))
	te := startTLSEdge(t, cfg)
	plainOnly := cfg
	plainOnly.Listen = []string{"127.0.0.1:0"}
	if err := te.e.Reload(plainOnly); err != nil {
		t.Fatal(err)
	}
	if a := te.e.TLSAddrs(); len(a) != 0 {
		t.Fatalf("after a reload without tls_listen: TLS listeners %v", a)
	}
	if c, err := net.DialTimeout("tcp", te.secure, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts after tls_listen was removed", te.secure)
	}
	withTLS := plainOnly
	withTLS.TLS, withTLS.TLSListen, withTLS.TLSDir = tlscert.Config{Internal: true}, []string{"127.0.0.1:0"}, filepath.Join(t.TempDir(), "tls")
	if err := te.e.Reload(withTLS); err != nil {
		t.Fatal(err)
	}
	addrs := te.e.TLSAddrs()
	if len(addrs) != 1 {
		t.Fatalf("after a reload adding tls_listen: %v", addrs)
	}
	ca, _ := os.ReadFile(filepath.Join(withTLS.TLSDir, "ca.crt"))
	te.pool = x509.NewCertPool()
	te.pool.AppendCertsFromPEM(ca)
	te.secure = addrs[0].String()
	c := te.client(true)
	defer c.CloseIdleConnections()
	resp, err := c.Get("https://" + te.secure + "/")
	if err != nil {
		t.Fatal(err)
	}
	if s := getSeen(t, resp); !s.TLS || resp.ProtoMajor != 2 {
		t.Errorf("after the reload: HTTP/%d, the app saw TLS %v", resp.ProtoMajor, s.TLS)
	}
}

// An early 413 over TLS is read by a client still sending its body. Over
// HTTP/1.1 this takes the lingering close through a hijacked framing
// tracker on a *tls.Conn (Go's client reads the answer even without the
// lingering, so this guards the path, not the need for it: that is
// linger_test.go's).
func TestTLSEarly413IsReadNotReset(t *testing.T) {
	cfg := uwsgiConfig(startApp(t, http.HandlerFunc(echoHandler)))
	cfg.ClientMaxBodySize = 64 << 10
	te := startTLSEdge(t, cfg)
	for _, h2 := range []bool{false, true} {
		c := te.client(h2)
		resp, err := c.Post("https://"+te.secure+"/", "application/octet-stream", bytes.NewReader(make([]byte, 4<<20)))
		if err != nil {
			t.Fatalf("h2=%v: %v (the answer was lost)", h2, err)
		}
		resp.Body.Close()
		c.CloseIdleConnections()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("h2=%v: %d, want 413", h2, resp.StatusCode)
		}
	}
}
