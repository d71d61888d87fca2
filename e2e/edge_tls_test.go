package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

var edgeTLSAnnounce = regexp.MustCompile(`stack: edge serving HTTPS at https://(\S+)/`)

// edgeTLSAddr waits for the HTTPS address p announces.
func edgeTLSAddr(t *testing.T, p *proc) string {
	t.Helper()
	p.url()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := edgeTLSAnnounce.FindStringSubmatch(p.Output()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no HTTPS address announced:\n%s", p.Output())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// edgeTLSCurl runs the real curl and returns its output.
func edgeTLSCurl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("curl", append([]string{"-sS", "--max-time", "10"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestEdgeTLSInternalCAAndHTTP2WithCurl is the user's first HTTPS run:
// tls: internal makes a CA under run_dir, and curl trusting it gets HTTP/2.
func TestEdgeTLSInternalCAAndHTTP2WithCurl(t *testing.T) {
	if out, _ := exec.Command("curl", "-V").Output(); !strings.Contains(string(out), "HTTP2") {
		t.Fatalf("this curl has no HTTP/2 (nghttp2):\n%s", out)
	}
	plain := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	dir := writeConfig(t, `
run_dir: run
shutdown_timeout: 5s
edge:
  listen: [`+plain+`]
  max_header_size: 4KiB
  tls: internal
  tls_listen: ["127.0.0.1:0"]
  tls_redirect: true
  hsts: {max_age: 24h}
appserver:
  app: echo
`)
	p := start(t, dir, "up")
	addr := edgeTLSAddr(t, p)
	_, port, _ := strings.Cut(addr, ":")
	ca := filepath.Join(dir, "run", "tls", "ca.crt")
	if !strings.Contains(p.Output(), "curl --cacert run/tls/ca.crt") {
		t.Errorf("the CA to trust is not printed:\n%s", p.Output())
	}
	if st, err := os.Stat(filepath.Join(dir, "run", "tls", "ca.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("ca.key: %v, mode %v; want 0600", err, st.Mode().Perm())
	}

	out := edgeTLSCurl(t, "--cacert", ca, "--http2", "-D", "-", "-w", "\n%{http_version}", "https://localhost:"+port+"/path?q=1")
	if !strings.HasSuffix(out, "\n2") {
		t.Fatalf("curl --http2 did not get HTTP/2:\n%s", out)
	}
	head, body, _ := strings.Cut(out, "\r\n\r\n")
	if !strings.Contains(strings.ToLower(head), "strict-transport-security: max-age=86400") {
		t.Errorf("no HSTS over TLS:\n%s", head)
	}
	var got struct {
		Scheme string              `json:"scheme"`
		Path   string              `json:"path"`
		Header map[string][]string `json:"headers"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSuffix(body, "\n2")), &got); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if got.Scheme != "https" || got.Path != "/path" || got.Header["X-Forwarded-Proto"][0] != "https" {
		t.Errorf("the app saw scheme %q path %q X-Forwarded-Proto %v, want https", got.Scheme, got.Path, got.Header["X-Forwarded-Proto"])
	}
	// HTTP/1.1 over TLS, and the CA verifies 127.0.0.1 too.
	if out := edgeTLSCurl(t, "--cacert", ca, "--http1.1", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", "https://"+addr+"/"); out != "1.1 200" {
		t.Errorf("curl --http1.1 to %s: %q", addr, out)
	}
	// The plain listener redirects, without HSTS.
	out = edgeTLSCurl(t, "-D", "-", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "http://"+plain+"/a?b=1")
	if !strings.HasSuffix(out, "308 https://127.0.0.1:"+port+"/a?b=1") || strings.Contains(strings.ToLower(out), "strict-transport") {
		t.Errorf("plain request: %q, want 308 to https://127.0.0.1:%s/a?b=1 without HSTS", out, port)
	}
	// HTTP/2 heads over max_header_size: 431 on the stream; one field
	// over twice the limit ends the connection (Go's HTTP/2 server: the
	// HPACK string is over the list size it advertised), and the edge
	// goes on serving.
	url := "https://localhost:" + port + "/"
	big := "X-Big: " + strings.Repeat("a", 5000)
	if out := edgeTLSCurl(t, "--cacert", ca, "--http2", "-H", big, "-o", "/dev/null", "-w", "%{http_version} %{http_code}", url); out != "2 431" {
		t.Errorf("a 5000-byte header over HTTP/2 with max_header_size 4KiB: %q, want 2 431", out)
	}
	huge := exec.Command("curl", "-sS", "--max-time", "10", "--cacert", ca, "--http2", "-H", "X-Big: "+strings.Repeat("a", 20000), "-o", "/dev/null", "-w", "%{http_code}", url)
	if out, err := huge.Output(); err == nil || string(out) != "000" {
		t.Errorf("a 20000-byte header over HTTP/2: curl %v, code %q; want the connection refused", err, out)
	}
	if out := edgeTLSCurl(t, "--cacert", ca, "--http2", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", url); out != "2 200" {
		t.Errorf("after the refusals: %q", out)
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// edgeTLSCA issues certificate files, as a user's CA (or certbot) would.
type edgeTLSCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
	n    int64
}

func newEdgeTLSCA(t *testing.T) *edgeTLSCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &edgeTLSCA{cert: cert, key: key, pool: pool, n: 1000}
}

// issue writes certFile and keyFile for names (localhost if none), with
// a new serial.
func (ca *edgeTLSCA) issue(t *testing.T, certFile, keyFile string, names ...string) int64 {
	t.Helper()
	if len(names) == 0 {
		names = []string{"localhost"}
	}
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
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	return ca.n
}

// TestEdgeTLSCertificateReplacedOnDiskIsServedAfterSIGHUP is a renewal
// (certbot's deploy hook sends SIGHUP); a broken renewal is refused and
// the old certificate keeps serving.
func TestEdgeTLSCertificateReplacedOnDiskIsServedAfterSIGHUP(t *testing.T) {
	tlsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	yaml := `
run_dir: run
shutdown_timeout: 5s
edge:
  listen: ["127.0.0.1:0"]
  tls: {cert_file: site.crt, key_file: site.key}
  tls_listen: [` + tlsAddr + `]
appserver:
  app: echo
`
	dir := writeConfig(t, yaml)
	certFile, keyFile := filepath.Join(dir, "site.crt"), filepath.Join(dir, "site.key")
	ca := newEdgeTLSCA(t)

	// stack check reads the files: a missing one is named with its key.
	if _, stderr, code := run(t, dir, "check"); code == 0 || !strings.Contains(stderr, "edge.tls: cert_file site.crt") || !strings.Contains(stderr, "no such file") {
		t.Errorf("check without the certificate: exit %d\n%s", code, stderr)
	}
	first := ca.issue(t, certFile, keyFile)
	p := start(t, dir, "up")
	edgeTLSAddr(t, p)
	serial := func() int64 {
		t.Helper()
		c, err := tls.Dial("tcp", tlsAddr, &tls.Config{RootCAs: ca.pool, ServerName: "localhost"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if got := serial(); got != first {
		t.Fatalf("serving serial %d, want %d", got, first)
	}

	second := ca.issue(t, certFile, keyFile)
	edgeReload(t, p, yaml, edgeReloaded)
	if got := serial(); got != second {
		t.Fatalf("after SIGHUP serving serial %d, want the replaced certificate's %d", got, second)
	}

	os.WriteFile(keyFile, []byte("-----BEGIN PRIVATE KEY-----\ntruncated\n"), 0o600)
	edgeReload(t, p, yaml, "reload refused")
	if !strings.Contains(p.Output(), "edge.tls: cert_file site.crt, key_file site.key") {
		t.Errorf("the refusal does not name the key and files:\n%s", p.Output())
	}
	if got := serial(); got != second {
		t.Errorf("after a refused reload serving serial %d, want %d still", got, second)
	}
	if out := edgeTLSCurl(t, "--cacert", edgeTLSWritePool(t, ca), "-o", "/dev/null", "-w", "%{http_code}", "https://localhost:"+strings.Split(tlsAddr, ":")[1]+"/"); out != "200" {
		t.Errorf("after a refused reload: %s", out)
	}
}

// edgeTLSWritePool writes ca's certificate for curl --cacert.
func edgeTLSWritePool(t *testing.T, ca *edgeTLSCA) string {
	path := filepath.Join(t.TempDir(), "ca.crt")
	os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), 0o644)
	return path
}

// stack check names the key of every TLS mistake before anything starts.
func TestEdgeTLSCheckNamesTheKey(t *testing.T) {
	for yaml, want := range map[string]string{
		"edge:\n  tls_listen: [\"127.0.0.1:8443\"]\n":                            "edge.tls_listen: is set but edge.tls is off",
		"edge:\n  tls: internal\n":                                               "edge.tls: is set but edge.tls_listen is empty",
		"edge:\n  tls: {cert_file: a.crt}\n  tls_listen: [\"127.0.0.1:8443\"]\n": "edge.tls.key_file: missing",
		"edge:\n  tls: intrenal\n  tls_listen: [\"127.0.0.1:8443\"]\n":           `"intrenal" is not internal, off, or {cert_file: F, key_file: F}`,
		"edge:\n  tls_redirect: true\n":                                          "edge.tls_redirect: is true but edge.tls_listen is empty",
		"edge:\n  hsts: {max_age: 1h}\n":                                         "edge.hsts.max_age: is set but edge.tls_listen is empty",
	} {
		dir := writeConfig(t, "run_dir: run\nappserver: {app: echo}\n"+yaml)
		if _, stderr, code := run(t, dir, "check"); code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, want 1 and %q in:\n%s", yaml, code, want, stderr)
		}
	}
}

// The framework behind the edge knows the request came over HTTPS, as
// Django's request.is_secure() does behind nginx with HTTPS=on: the
// session cookie is Secure, and a POST must show where it comes from
// (Origin, or Referer) and that origin must be https.
func TestEdgeTLSFrameworkSeesHTTPS(t *testing.T) {
	dir := writeConfig(t, `
run_dir: run
shutdown_timeout: 5s
edge:
  listen: ["127.0.0.1:0"]
  tls: internal
  tls_listen: ["127.0.0.1:0"]
appserver:
  app: polls
apps:
  polls:
    debug: false
    secret_key: e2e-secret-key-0123456789abcdef
    allowed_hosts: ["localhost"]
`)
	p := start(t, dir, "up")
	_, port, _ := strings.Cut(edgeTLSAddr(t, p), ":")
	caPEM, err := os.ReadFile(filepath.Join(dir, "run", "tls", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	b := browser()
	b.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	base := "https://localhost:" + port

	resp, err := b.Get(base + "/polls/1/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("HTTP/%d, want 2", resp.ProtoMajor)
	}
	if c := resp.Header.Get("Set-Cookie"); !strings.Contains(c, "; Secure") {
		t.Errorf("session cookie over HTTPS is not Secure: %q", c)
	}
	m := csrfRE.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the detail page (%d):\n%s", resp.StatusCode, page)
	}
	vote := func(origin string) int {
		req, _ := http.NewRequest("POST", base+"/polls/1/vote/", strings.NewReader(url.Values{"csrfmiddlewaretoken": {string(m[1])}, "choice": {"1"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := vote(""); code != 403 {
		t.Errorf("a POST over HTTPS without Origin or Referer: %d, want 403 (Django's strict Referer check)", code)
	}
	if code := vote("http://localhost:" + port); code != 403 {
		t.Errorf("a POST over HTTPS from an http:// origin: %d, want 403", code)
	}
	if code := vote("https://localhost:" + port); code != http.StatusFound {
		t.Errorf("a POST over HTTPS from its own https origin: %d, want 302", code)
	}
}
