package edge_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/edge/tlscert"
)

// tlsEdge is an edge with a plain and a TLS listener, its log captured.
type tlsEdge struct {
	e      *edge.Edge
	plain  string // host:port
	secure string // host:port
	pool   *x509.CertPool
	log    *logBuffer
}

// startTLSEdge runs cfg with tls: internal (unless cfg has a TLS of its
// own) on free ports.
func startTLSEdge(t testing.TB, cfg edge.Config) *tlsEdge {
	t.Helper()
	return startTLSEdgeWith(t, cfg, nil)
}

// startTLSEdgeWith is startTLSEdge, instrumented with reg unless nil.
func startTLSEdgeWith(t testing.TB, cfg edge.Config, reg prometheus.Registerer) *tlsEdge {
	t.Helper()
	te := &tlsEdge{log: &logBuffer{}}
	cfg.Listen = []string{"127.0.0.1:0"}
	cfg.TLSListen = []string{"127.0.0.1:0"}
	if cfg.TLS.IsZero() {
		cfg.TLS = tlscert.Config{Internal: true}
	}
	if cfg.TLSDir == "" {
		cfg.TLSDir = filepath.Join(t.TempDir(), "tls")
	}
	e, err := edge.New(cfg, t.TempDir(), slog.New(slog.NewTextHandler(te.log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	if reg != nil {
		if err := e.Instrument(reg); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Shutdown(ctx)
		if err := <-done; err != nil {
			t.Errorf("edge Serve: %v", err)
		}
	})
	te.e, te.plain, te.secure = e, e.Addrs()[0].String(), e.TLSAddrs()[0].String()
	te.pool = x509.NewCertPool()
	if cfg.TLS.Internal {
		ca, err := os.ReadFile(filepath.Join(cfg.TLSDir, "ca.crt"))
		if err != nil {
			t.Fatal(err)
		}
		te.pool.AppendCertsFromPEM(ca)
	}
	return te
}

// client speaks HTTP/2 (h2) or HTTP/1.1 only to the edge's TLS port,
// trusting its CA, without following redirects.
func (te *tlsEdge) client(h2 bool) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: te.pool, ServerName: "localhost"}, ForceAttemptHTTP2: h2}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func TestTLSServesHTTP2AndHTTP1AndTheAppSeesHTTPS(t *testing.T) {
	te := startTLSEdge(t, uwsgiConfig(startApp(t, http.HandlerFunc(echoHandler))))
	for _, h2 := range []bool{true, false} {
		c := te.client(h2)
		resp, err := c.Get("https://" + te.secure + "/x?y=1")
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 2, false: 1}[h2]; resp.ProtoMajor != want {
			t.Errorf("h2=%v: served over HTTP/%d", h2, resp.ProtoMajor)
		}
		s := getSeen(t, resp)
		if !s.TLS || s.Path != "/x" || s.Query != "y=1" {
			t.Errorf("h2=%v: the app saw %+v, want TLS set (HTTPS=on) and /x?y=1", h2, s)
		}
		if got := s.Header["X-Forwarded-Proto"]; len(got) != 1 || got[0] != "https" {
			t.Errorf("h2=%v: X-Forwarded-Proto %v, want https", h2, got)
		}
		if resp.Header.Get("Strict-Transport-Security") != "" {
			t.Errorf("HSTS sent while off")
		}
		// A body (buffered by the edge, then sent whole) arrives intact.
		body := strings.Repeat("0123456789abcdef", 20<<10)
		resp, err = c.Post("https://"+te.secure+"/post", "application/octet-stream", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(body))
		if s := getSeen(t, resp); s.BodyLength != len(body) || s.BodySHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("h2=%v: a %d-byte POST arrived as %d bytes", h2, len(body), s.BodyLength)
		}
		c.CloseIdleConnections()
	}
	// The plain listener still serves plain HTTP, and the app sees http.
	resp, err := http.Get("http://" + te.plain + "/")
	if err != nil {
		t.Fatal(err)
	}
	if s := getSeen(t, resp); s.TLS || s.Header["X-Forwarded-Proto"][0] != "http" {
		t.Errorf("a plain request reached the app as HTTPS: %+v", s)
	}
}

// The framing tracker reads the decrypted stream: a request that would be
// smuggled is refused over TLS as over plain HTTP.
func TestTLSHTTP1RefusesAmbiguousFraming(t *testing.T) {
	te := startTLSEdge(t, uwsgiConfig(startApp(t, http.HandlerFunc(echoHandler))))
	for name, raw := range map[string]string{
		"CL and TE":    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
		"duplicate CL": "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
	} {
		got := te.tlsExchange(t, "http/1.1", raw)
		if !strings.HasPrefix(got, "HTTP/1.1 400 ") {
			t.Errorf("%s over TLS: got %q, want 400", name, got)
		}
		if strings.Contains(got, "smuggled") {
			t.Errorf("%s over TLS: the smuggled request was served", name)
		}
	}
	te.log.waitFor(t, "both Content-Length and Transfer-Encoding")
	// A head over max_header_size is still 431, counted on the decrypted bytes.
	got := te.tlsExchange(t, "http/1.1", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 40<<10)+"\r\n\r\n")
	if !strings.HasPrefix(got, "HTTP/1.1 431 ") {
		t.Errorf("an oversized head over TLS: got %.80q, want 431", got)
	}
}

// tlsExchange writes raw over a TLS connection offering alpn and reads
// until the edge closes it (or 5s pass).
func (te *tlsEdge) tlsExchange(t *testing.T, alpn, raw string) string {
	t.Helper()
	c, err := tls.Dial("tcp", te.secure, &tls.Config{RootCAs: te.pool, ServerName: "localhost", NextProtos: []string{alpn}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, raw)
	b, _ := io.ReadAll(c)
	return string(b)
}

func TestTLSStalledHandshakeIsClosedAfterTheHeaderTimeout(t *testing.T) {
	cfg := uwsgiConfig(startApp(t, http.HandlerFunc(echoHandler)))
	cfg.ClientHeaderTimeout = time.Second
	reg := prometheus.NewRegistry()
	te := startTLSEdgeWith(t, cfg, reg)
	for name, sent := range map[string]string{
		"nothing":             "",
		"half a ClientHello":  "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
		"a plain HTTP client": "GET / HTTP/1.1\r\n",
	} {
		c, err := net.Dial("tcp", te.secure)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, sent)
		start := time.Now()
		c.SetReadDeadline(time.Now().Add(15 * time.Second))
		got, err := io.ReadAll(c)
		if sent == "GET / HTTP/1.1\r\n" && !strings.HasPrefix(string(got), "HTTP/1.0 400 ") {
			t.Errorf("plain HTTP to the TLS port: got %q, want 400", got)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%s: the connection was still open after 15s", name)
		}
		t.Logf("%s: closed after %v", name, time.Since(start).Round(time.Millisecond))
		c.Close()
	}
	te.log.waitFor(t, "client timed out in the TLS handshake")
	for _, h2 := range []bool{true, false} {
		c := te.client(h2)
		resp, err := c.Get("https://" + te.secure + "/")
		if err != nil {
			t.Fatal(err)
		}
		getSeen(t, resp)
		c.CloseIdleConnections()
	}
	for result, want := range map[string]float64{"timeout": 2, "failed": 1, "h2": 1, "http/1.1": 1} {
		if got := metricValue(t, reg, "stack_edge_tls_handshakes_total", map[string]string{"result": result}); got != want {
			t.Errorf("stack_edge_tls_handshakes_total{result=%q} = %v, want %v", result, got, want)
		}
	}
}

func TestTLSShutdownDoesNotWaitForAStalledHandshake(t *testing.T) {
	cfg := uwsgiConfig(startApp(t, http.HandlerFunc(echoHandler)))
	cfg.ClientHeaderTimeout = time.Minute
	te := startTLSEdge(t, cfg)
	c, err := net.Dial("tcp", te.secure)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "\x16\x03\x01")
	time.Sleep(100 * time.Millisecond) // accepted, handshake under way
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	if err := te.e.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	t.Logf("Shutdown with a stalled handshake took %v", time.Since(start).Round(time.Millisecond))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Error("the stalled connection is still open after Shutdown")
		}
	}
}

func TestTLSHTTP2HeadLimits(t *testing.T) {
	cfg := uwsgiConfig(startApp(t, http.HandlerFunc(echoHandler)))
	cfg.MaxHeaderSize = 4 << 10
	te := startTLSEdge(t, cfg)
	c := te.client(true)
	defer c.CloseIdleConnections()
	do := func(path string, header string) int {
		req, _ := http.NewRequest("GET", "https://"+te.secure+path, nil)
		if header != "" {
			req.Header.Set("X-Big", header)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if resp.ProtoMajor != 2 {
			t.Fatalf("HTTP/%d, want 2", resp.ProtoMajor)
		}
		return resp.StatusCode
	}
	if got := do("/", strings.Repeat("a", 3<<10)); got != 200 {
		t.Errorf("a 3 KiB header under a 4 KiB limit: %d", got)
	}
	if got := do("/", strings.Repeat("a", 5<<10)); got != 431 {
		t.Errorf("a 5 KiB header over a 4 KiB limit: %d, want 431", got)
	}
	if got := do("/"+strings.Repeat("p", 1200), ""); got != 414 {
		t.Errorf("a 1.2 KiB target over a quarter of 4 KiB: %d, want 414", got)
	}
	te.log.waitFor(t, "request head larger than max_header_size")
	// The connection survives refusals: HTTP/2 answers on its stream.
	if got := do("/", ""); got != 200 {
		t.Errorf("after the refusals: %d", got)
	}
}

func TestTLSRedirectAndHSTS(t *testing.T) {
	cfg := uwsgiConfig(startApp(t, http.HandlerFunc(echoHandler)))
	cfg.TLSRedirect = true
	cfg.HSTS = edge.HSTSConfig{MaxAge: time.Hour, IncludeSubdomains: true}
	te := startTLSEdge(t, cfg)
	plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := plain.Post("http://"+te.plain+"/a/b?c=1&d=%2F", "text/plain", strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, port, _ := net.SplitHostPort(te.secure)
	if want := "https://127.0.0.1:" + port + "/a/b?c=1&d=%2F"; resp.StatusCode != 308 || resp.Header.Get("Location") != want {
		t.Errorf("plain request: %d Location %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	if resp.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS sent over plain HTTP")
	}
	req, _ := http.NewRequest("GET", "http://"+te.plain+"/", nil)
	req.Host = "example.com"
	resp, err = plain.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := "https://example.com:" + port + "/"; resp.Header.Get("Location") != want {
		t.Errorf("Host example.com: Location %q, want %q", resp.Header.Get("Location"), want)
	}

	for _, h2 := range []bool{true, false} {
		c := te.client(h2)
		defer c.CloseIdleConnections()
		resp, err := c.Get("https://" + te.secure + "/")
		if err != nil {
			t.Fatal(err)
		}
		getSeen(t, resp)
		if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=3600; includeSubDomains" {
			t.Errorf("h2=%v: HSTS %q", h2, got)
		}
	}
}

func TestTLSReloadServesTheReplacedCertificateAndRefusesABrokenOne(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	cfg := uwsgiConfig(startApp(t, http.HandlerFunc(echoHandler)))
	cfg.TLS = ca.issue(t, dir, "localhost")
	te := startTLSEdge(t, cfg)
	te.pool = ca.pool
	serial := func() string {
		c, err := tls.Dial("tcp", te.secure, &tls.Config{RootCAs: te.pool, ServerName: "localhost"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	first := serial()
	cfg.Listen, cfg.TLSListen = []string{"127.0.0.1:0"}, []string{"127.0.0.1:0"} // the same listeners

	ca.issue(t, dir, "localhost") // replaced on disk
	if err := te.e.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	second := serial()
	if second == first {
		t.Fatal("the replaced certificate is not served after Reload")
	}

	os.WriteFile(cfg.TLS.KeyFile, []byte("not a key"), 0o600)
	err := te.e.Reload(cfg)
	if err == nil || !strings.Contains(err.Error(), "edge.tls") || !strings.Contains(err.Error(), cfg.TLS.KeyFile) {
		t.Fatalf("a broken key: Reload says %v, want an error naming edge.tls and the file", err)
	}
	if serial() != second {
		t.Error("after a refused reload the served certificate changed")
	}
}
