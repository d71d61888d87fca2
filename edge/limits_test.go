package edge_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/edge/limit"
	"github.com/stack-web/stack/edge/upstream"
)

// limitsEdge serves cfg on a free port, instrumented with reg if not nil,
// and returns the edge and its host:port.
func limitsEdge(t *testing.T, cfg edge.Config, reg *prometheus.Registry) (*edge.Edge, string) {
	t.Helper()
	cfg.Listen = []string{"127.0.0.1:0"}
	e, err := edge.New(cfg, t.TempDir(), quiet)
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
	return e, e.Addrs()[0].String()
}

// httpApp is a plain HTTP upstream (protocol: http) running h.
func httpApp(t *testing.T, h http.Handler) edge.Config {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := proxyConfig(strings.TrimPrefix(srv.URL, "http://"))
	up := cfg.Upstreams["app"]
	up.Protocol = "http"
	cfg.Upstreams = map[string]upstream.Config{"app": up}
	return cfg
}

func okHandler(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }

// dialFrom connects to addr from the local address from ("127.0.0.2":
// every 127/8 address is loopback on Linux), so that one test plays
// several clients.
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rawFrom sends one request from the address from (header lines extra)
// and returns the answer, its body read.
func rawFrom(t *testing.T, from, addr, path, extra string) *http.Response {
	t.Helper()
	c := dialFrom(t, from, addr)
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"+extra+"\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp
}

func rate(t *testing.T, s string, burst int) *limit.RateConfig {
	r, err := limit.ParseRate(s)
	if err != nil {
		t.Fatal(err)
	}
	return &limit.RateConfig{Rate: r, Burst: burst}
}

// The test: 100 requests at once against rate 10r/s burst 5 →
// 1+5 pass, the rest get 429 with Retry-After; another client address is
// counted apart; every refusal is counted in the metric.
func TestRateLimitHundredAtOnce(t *testing.T) {
	cfg := httpApp(t, http.HandlerFunc(okHandler))
	cfg.RateLimit = rate(t, "10r/s", 5)
	reg := prometheus.NewRegistry()
	_, addr := limitsEdge(t, cfg, reg)

	// Connections first, then every request at once.
	conns := make([]net.Conn, 100)
	for i := range conns {
		conns[i] = dialFrom(t, "127.0.0.1", addr)
		defer conns[i].Close()
	}
	var ok, limited, other, badRetry atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range conns {
		wg.Go(func() {
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"); err != nil {
				other.Add(1)
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				other.Add(1)
				return
			}
			io.ReadAll(resp.Body)
			switch resp.StatusCode {
			case 200:
				ok.Add(1)
			case 429:
				limited.Add(1)
				if resp.Header.Get("Retry-After") != "1" {
					badRetry.Add(1)
				}
			default:
				other.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	// 1+burst pass at once; a token comes back every 100 ms while the
	// requests are still arriving.
	most := 6 + int64(elapsed/(100*time.Millisecond))
	t.Logf("100 requests at once in %v: %d passed, %d refused (429), %d other", elapsed, ok.Load(), limited.Load(), other.Load())
	if ok.Load() < 6 || ok.Load() > most || ok.Load()+limited.Load() != 100 || other.Load() != 0 {
		t.Fatalf("passed %d (want 6..%d), refused %d, other %d", ok.Load(), most, limited.Load(), other.Load())
	}
	if badRetry.Load() != 0 {
		t.Errorf("%d refusals without Retry-After: 1", badRetry.Load())
	}
	if resp := rawFrom(t, "127.0.0.2", addr, "/", ""); resp.StatusCode != 200 {
		t.Errorf("another client address got %d; clients are counted apart", resp.StatusCode)
	}
	if got := metricValue(t, reg, "stack_edge_rate_limited_total", map[string]string{"location": "/", "limit": "rate_limit"}); got != float64(limited.Load()) {
		t.Errorf("stack_edge_rate_limited_total = %v, want %d", got, limited.Load())
	}
}

// A header names the client only when a trusted proxy sent it; from
// anyone else the peer's address counts, whatever the header says.
func TestRateLimitHeaderKeyOnlyFromTrustedProxy(t *testing.T) {
	cfg := httpApp(t, http.HandlerFunc(okHandler))
	cfg.TrustedProxies = []string{"127.0.0.1"}
	cfg.RateLimit = rate(t, "1r/m", 0)
	cfg.RateLimit.Key = "header:X-Real-IP"
	_, addr := limitsEdge(t, cfg, nil)
	for _, c := range []struct {
		from, header string
		want         int
	}{
		{"127.0.0.1", "X-Real-IP: 10.0.0.1\r\n", 200},
		{"127.0.0.1", "X-Real-IP: 10.0.0.1\r\n", 429}, // the same client behind the proxy
		{"127.0.0.1", "X-Real-IP: 10.0.0.2\r\n", 200}, // another one
		{"127.0.0.2", "X-Real-IP: 10.0.0.3\r\n", 200}, // untrusted: counted as 127.0.0.2
		{"127.0.0.2", "X-Real-IP: 10.0.0.4\r\n", 429}, // a new header value does not help
		{"127.0.0.1", "", 200},                        // no header: the proxy itself
	} {
		if got := rawFrom(t, c.from, addr, "/", c.header).StatusCode; got != c.want {
			t.Errorf("from %s with %q: %d, want %d", c.from, c.header, got, c.want)
		}
	}
}

// Behind a trusted proxy the remote_addr key is the client X-Forwarded-For
// names (nginx's realip); from an untrusted peer the header is ignored.
func TestRateLimitForwardedClient(t *testing.T) {
	cfg := httpApp(t, http.HandlerFunc(okHandler))
	cfg.TrustedProxies = []string{"127.0.0.1"}
	cfg.RateLimit = rate(t, "1r/m", 0)
	_, addr := limitsEdge(t, cfg, nil)
	for _, c := range []struct {
		from, header string
		want         int
	}{
		{"127.0.0.1", "X-Forwarded-For: 192.0.2.1\r\n", 200},
		{"127.0.0.1", "X-Forwarded-For: 192.0.2.1\r\n", 429},
		{"127.0.0.1", "X-Forwarded-For: 192.0.2.2\r\n", 200},
		{"127.0.0.2", "X-Forwarded-For: 192.0.2.3\r\n", 200},
		{"127.0.0.2", "X-Forwarded-For: 192.0.2.4\r\n", 429},
	} {
		if got := rawFrom(t, c.from, addr, "/", c.header).StatusCode; got != c.want {
			t.Errorf("from %s with %q: %d, want %d", c.from, c.header, got, c.want)
		}
	}
}

// edge.rate_limit is one zone for every location that inherits it; a
// location's own setting is its own zone; off exempts a location; the
// status is configurable.
func TestRateLimitPerLocation(t *testing.T) {
	cfg := httpApp(t, http.HandlerFunc(okHandler))
	cfg.RateLimit = rate(t, "1r/m", 0)
	own := rate(t, "1r/m", 1)
	own.Status = 503
	cfg.Locations = []edge.LocationConfig{
		{Path: "/", Upstream: "app"},
		{Path: "/shared/", Upstream: "app"},
		{Path: "/own/", Upstream: "app", RateLimit: own},
		{Path: "/free/", Upstream: "app", RateLimit: &limit.RateConfig{Off: true}},
	}
	_, addr := limitsEdge(t, cfg, nil)
	for i, c := range []struct {
		path string
		want int
	}{
		{"/", 200}, {"/shared/x", 429}, // one zone for both
		{"/own/x", 200}, {"/own/x", 200}, {"/own/x", 503},
		{"/free/x", 200}, {"/free/x", 200}, {"/free/x", 200},
	} {
		if got := rawFrom(t, "127.0.0.1", addr, c.path, ""); got.StatusCode != c.want {
			t.Errorf("%d: %s: %d, want %d", i, c.path, got.StatusCode, c.want)
		} else if c.want != 200 && got.Header.Get("Retry-After") == "" {
			t.Errorf("%d: %s: %d without Retry-After", i, c.path, c.want)
		}
	}
}

// A reload keeps a zone whose settings did not change (as nginx keeps a
// zone of the same name and size), and starts a changed one empty.
func TestRateLimitAcrossReload(t *testing.T) {
	cfg := httpApp(t, http.HandlerFunc(okHandler))
	cfg.RateLimit = rate(t, "1r/m", 0)
	e, addr := limitsEdge(t, cfg, nil)
	status := func() int { return rawFrom(t, "127.0.0.1", addr, "/", "").StatusCode }
	if s1, s2 := status(), status(); s1 != 200 || s2 != 429 {
		t.Fatalf("before reload: %d %d, want 200 429", s1, s2)
	}
	cfg.Listen = []string{"127.0.0.1:0"} // as configured: the socket is kept
	if err := e.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if s := status(); s != 429 {
		t.Errorf("same settings after reload: %d, want 429 (the zone is kept)", s)
	}
	cfg.RateLimit = rate(t, "2r/m", 0)
	if err := e.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if s := status(); s != 200 {
		t.Errorf("changed settings after reload: %d, want 200 (a new zone)", s)
	}
}

// limit_conn counts requests in progress per client: over max → 503 with
// Retry-After; a slot comes back when a request ends, also when the client
// leaves mid-request and when the response is aborted.
func TestLimitConn(t *testing.T) {
	var inApp atomic.Int64
	release := make(chan struct{})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inApp.Add(1)
		defer inApp.Add(-1)
		switch r.URL.Path {
		case "/slow":
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		case "/hang":
			<-r.Context().Done()
			return
		case "/abort":
			// Promise more than is sent: the edge aborts the client.
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, "short")
			panic(http.ErrAbortHandler)
		}
		io.WriteString(w, "ok")
	})
	cfg := httpApp(t, app)
	cfg.LimitConn = &limit.ConnConfig{Max: 2}
	reg := prometheus.NewRegistry()
	_, addr := limitsEdge(t, cfg, reg)

	wait := func(n int64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); inApp.Load() != n; {
			if time.Now().After(deadline) {
				t.Fatalf("%d requests in the app, want %d", inApp.Load(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i := range statuses {
		wg.Go(func() { statuses[i] = rawFrom(t, "127.0.0.1", addr, "/slow", "").StatusCode })
	}
	wait(2)
	resp := rawFrom(t, "127.0.0.1", addr, "/", "")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("third request in progress: %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if s := rawFrom(t, "127.0.0.2", addr, "/", "").StatusCode; s != 200 {
		t.Errorf("another client: %d, want 200", s)
	}
	close(release)
	wg.Wait()
	if statuses[0] != 200 || statuses[1] != 200 {
		t.Errorf("slow requests: %v", statuses)
	}

	// Clients that leave mid-request free their slots.
	var hung []net.Conn
	for range 2 {
		c := dialFrom(t, "127.0.0.1", addr)
		defer c.Close()
		io.WriteString(c, "GET /hang HTTP/1.1\r\nHost: a\r\n\r\n")
		hung = append(hung, c)
	}
	wait(2)
	if s := rawFrom(t, "127.0.0.1", addr, "/", "").StatusCode; s != 503 {
		t.Errorf("with two hanging requests: %d, want 503", s)
	}
	for _, c := range hung {
		c.Close()
	}
	wait(0)
	// Responses the edge aborts (the upstream promised more than it sent)
	// free theirs too.
	for range 2 {
		rawFrom(t, "127.0.0.1", addr, "/abort", "")
	}
	freed := false
	for deadline := time.Now().Add(5 * time.Second); !freed && time.Now().Before(deadline); {
		ok := 0
		for range 3 {
			if rawFrom(t, "127.0.0.1", addr, "/", "").StatusCode == 200 {
				ok++
			}
		}
		freed = ok == 3
		time.Sleep(10 * time.Millisecond)
	}
	if !freed {
		t.Fatal("slots of ended requests were not released")
	}
	if got := metricValue(t, reg, "stack_edge_rate_limited_total", map[string]string{"limit": "limit_conn"}); got < 1 {
		t.Errorf("limit_conn refusals counted: %v", got)
	}
}

func TestLimitsValidation(t *testing.T) {
	cfg := proxyConfig("unix:/nonexistent.sock")
	cfg.RateLimit = &limit.RateConfig{Burst: -1, Key: "header:X-Real-IP", Status: 418}
	cfg.LimitConn = &limit.ConnConfig{}
	cfg.Locations[0].RateLimit = &limit.RateConfig{Off: true}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"edge.rate_limit.rate: missing", "edge.rate_limit.burst: -1 is negative", "edge.rate_limit.status: 418",
		"edge.rate_limit.key: \"header:X-Real-IP\" is believed only from edge.trusted_proxies", "edge.limit_conn.max: must be at least 1",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no %q in:\n%v", want, err)
		}
	}
}

// BenchmarkProxyHello with rate_limit and limit_conn on every request (a
// rate no client reaches), for the limits' cost per request.
func BenchmarkProxyHelloLimited(b *testing.B) {
	cfg := proxyConfig("unix:" + startApp(b, hello))
	cfg.AccessLog = "off"
	r, _ := limit.ParseRate("1000000r/s")
	cfg.RateLimit = &limit.RateConfig{Rate: r, Burst: 1000}
	cfg.LimitConn = &limit.ConnConfig{Max: 1000}
	benchClient(b, startEdge(b, cfg), "/")
}
