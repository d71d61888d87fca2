package edge_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stack-web/stack/appserver"
	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/edge/upstream"
)

// seen is what the app behind the edge saw of a request.
type seen struct {
	Method        string              `json:"method"`
	Path          string              `json:"path"`
	RequestURI    string              `json:"request_uri"`
	Query         string              `json:"query"`
	Host          string              `json:"host"`
	RemoteAddr    string              `json:"remote_addr"`
	TLS           bool                `json:"tls"`
	ContentLength int64               `json:"content_length"`
	BodyLength    int                 `json:"body_length"`
	BodySHA256    string              `json:"body_sha256"`
	Header        map[string][]string `json:"header"`
}

func echoHandler(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/slow":
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
		return
	case r.URL.Path == "/slowpost":
		io.Copy(io.Discard, r.Body)
		time.Sleep(600 * time.Millisecond)
		io.WriteString(w, "done")
		return
	case r.URL.Path == "/stream":
		for i := range 3 {
			fmt.Fprintf(w, "line %d\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(30 * time.Millisecond)
		}
		return
	}
	body, _ := io.ReadAll(r.Body)
	sum := sha256.Sum256(body)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(seen{
		Method: r.Method, Path: r.URL.Path, RequestURI: r.RequestURI, Query: r.URL.RawQuery,
		Host: r.Host, RemoteAddr: r.RemoteAddr, TLS: r.TLS != nil, ContentLength: r.ContentLength,
		BodyLength: len(body), BodySHA256: hex.EncodeToString(sum[:]), Header: r.Header,
	})
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// startApp runs an appserver with h on a fresh Unix socket.
func startApp(t testing.TB, h http.Handler) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "app.sock")
	l, err := appserver.Listen("unix:"+sock, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	s := &appserver.Server{Handler: h, Logger: quiet}
	var wg sync.WaitGroup
	wg.Go(func() { s.Serve(l) })
	t.Cleanup(func() { s.Close(); wg.Wait() })
	return sock
}

// startEdge runs an edge with cfg (listening on a free port) and returns
// its base URL.
func startEdge(t testing.TB, cfg edge.Config) string {
	t.Helper()
	_, url := runEdge(t, cfg)
	return url
}

// runEdge runs an edge with cfg (listening on a free port) until the test
// ends, and returns it and its base URL.
func runEdge(t testing.TB, cfg edge.Config) (*edge.Edge, string) {
	t.Helper()
	cfg.Listen = []string{"127.0.0.1:0"}
	e, err := edge.New(cfg, t.TempDir(), quiet)
	if err != nil {
		t.Fatal(err)
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
	return e, "http://" + e.Addrs()[0].String()
}

func proxyConfig(servers ...string) edge.Config {
	cfg := edge.DefaultConfig()
	up := upstream.Default()
	up.Servers = servers
	cfg.Upstreams = map[string]upstream.Config{"app": up}
	cfg.Locations = []edge.LocationConfig{{Path: "/", Upstream: "app"}}
	return cfg
}

func getSeen(t *testing.T, resp *http.Response) seen {
	t.Helper()
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var s seen
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// rawRequest sends raw bytes and returns the status line and the rest.
func rawRequest(t *testing.T, base, raw string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, raw)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestProxyForwardsWhatNginxWould(t *testing.T) {
	base := startEdge(t, proxyConfig("unix:"+startApp(t, http.HandlerFunc(echoHandler))))

	req, _ := http.NewRequest("GET", base+"/a%20b/c%2Fd?x=1&y=%2F", nil)
	req.Header.Add("Accept", "text/html")
	req.Header.Add("Accept", "application/json")
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header["X_Forwarded_For"] = []string{"7.7.7.7"}
	req.Header["X_Custom"] = []string{"sneaky"}
	req.Header.Set("Proxy", "http://evil:8080")
	req.Header.Set("Connection", "close, X-Hop")
	req.Header.Set("X-Hop", "hop")
	s := getSeen(t, mustDo(t, req))

	checks := []struct{ name, got, want string }{
		{"method", s.Method, "GET"},
		{"path (decoded)", s.Path, "/a b/c/d"},
		{"request uri (raw)", s.RequestURI, "/a%20b/c%2Fd?x=1&y=%2F"},
		{"query", s.Query, "x=1&y=%2F"},
		{"X-Forwarded-For replaced", strings.Join(s.Header["X-Forwarded-For"], ","), "127.0.0.1"},
		{"X-Forwarded-Proto replaced", strings.Join(s.Header["X-Forwarded-Proto"], ","), "http"},
		{"X-Forwarded-Host", strings.Join(s.Header["X-Forwarded-Host"], ","), strings.TrimPrefix(base, "http://")},
		{"repeated header joined", strings.Join(s.Header["Accept"], "|"), "text/html, application/json"},
		{"host", s.Host, strings.TrimPrefix(base, "http://")},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !strings.HasPrefix(s.RemoteAddr, "127.0.0.1:") {
		t.Errorf("remote addr %q", s.RemoteAddr)
	}
	for _, h := range []string{"Proxy", "X-Hop", "Connection", "X_custom", "X-Custom"} {
		if v, ok := s.Header[h]; ok {
			t.Errorf("header %s reached the app: %v", h, v)
		}
	}
	for name := range s.Header {
		if strings.Contains(name, "_") {
			t.Errorf("underscore header %q reached the app", name)
		}
	}
}

func TestTrustedProxyKeepsForwardingHeaders(t *testing.T) {
	cfg := proxyConfig("unix:" + startApp(t, http.HandlerFunc(echoHandler)))
	cfg.TrustedProxies = []string{"127.0.0.0/8"}
	base := startEdge(t, cfg)
	req, _ := http.NewRequest("GET", base+"/", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.9, 10.1.1.1")
	req.Header.Set("X-Forwarded-Proto", "https")
	s := getSeen(t, mustDo(t, req))
	if got := strings.Join(s.Header["X-Forwarded-For"], ","); got != "203.0.113.9, 10.1.1.1, 127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q", got)
	}
	if !s.TLS {
		t.Error("X-Forwarded-Proto https from a trusted proxy did not reach the app as HTTPS")
	}
	if !strings.HasPrefix(s.RemoteAddr, "10.1.1.1:") {
		t.Errorf("remote addr %q, want the nearest untrusted hop 10.1.1.1", s.RemoteAddr)
	}
}

func TestRequestBodies(t *testing.T) {
	cfg := proxyConfig("unix:" + startApp(t, http.HandlerFunc(echoHandler)))
	cfg.ClientBodyBufferSize = 16 << 10 // so that larger bodies go through a temp file
	base := startEdge(t, cfg)
	mib := strings.Repeat("0123456789abcdef", 65536)
	sum := sha256.Sum256([]byte(mib))

	t.Run("1 MiB with Content-Length", func(t *testing.T) {
		s := getSeen(t, mustPost(t, base+"/up", strings.NewReader(mib), int64(len(mib))))
		if s.BodyLength != len(mib) || s.BodySHA256 != hex.EncodeToString(sum[:]) || s.ContentLength != int64(len(mib)) {
			t.Errorf("app saw %d bytes (CL %d), sha %s", s.BodyLength, s.ContentLength, s.BodySHA256)
		}
	})
	t.Run("chunked is de-chunked with an exact length", func(t *testing.T) {
		body := strings.Repeat("x", 40000)
		s := getSeen(t, mustPost(t, base+"/up", io.MultiReader(strings.NewReader(body)), -1))
		if s.ContentLength != int64(len(body)) || s.BodyLength != len(body) {
			t.Errorf("app saw CL %d, %d bytes; want %d", s.ContentLength, s.BodyLength, len(body))
		}
		if te := s.Header["Transfer-Encoding"]; len(te) != 0 {
			t.Errorf("Transfer-Encoding reached the app: %v", te)
		}
	})
	t.Run("over the limit with Content-Length is 413", func(t *testing.T) {
		resp := mustPost(t, base+"/up", strings.NewReader(mib+"x"), int64(len(mib)+1))
		resp.Body.Close()
		if resp.StatusCode != 413 {
			t.Errorf("status %d, want 413", resp.StatusCode)
		}
	})
	t.Run("over the limit chunked is 413", func(t *testing.T) {
		resp := mustPost(t, base+"/up", io.MultiReader(strings.NewReader(mib+"x")), -1)
		resp.Body.Close()
		if resp.StatusCode != 413 {
			t.Errorf("status %d, want 413", resp.StatusCode)
		}
	})
}

func TestSlowUpstreamAfterABodyIsNotCut(t *testing.T) {
	// client_body_timeout bounds reading the body, not the wait for the
	// upstream that follows.
	cfg := proxyConfig("unix:" + startApp(t, http.HandlerFunc(echoHandler)))
	cfg.ClientBodyTimeout = 200 * time.Millisecond
	base := startEdge(t, cfg)
	resp := mustPost(t, base+"/slowpost", strings.NewReader("payload"), 7)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "done" {
		t.Errorf("%d %q, want 200 done", resp.StatusCode, b)
	}
}

func TestAmbiguousFramingIs400(t *testing.T) {
	base := startEdge(t, proxyConfig("unix:"+startApp(t, http.HandlerFunc(echoHandler))))
	for name, raw := range map[string]string{
		"CL and TE":      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"differing CLs":  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
		"equal CLs":      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
		"TE on 1.0":      "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"TE not chunked": "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			code, _ := rawRequest(t, base, raw)
			if code != 400 && code != 501 {
				t.Errorf("status %d, want 400 (or 501 for an unknown coding)", code)
			}
		})
	}
	// A well-framed request on a kept-alive connection after a chunked one
	// gets its own, correct verdict.
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n")
	br := bufio.NewReader(c)
	for _, want := range []string{"/1", "/2"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := getSeen(t, resp)
		if s.Path != want {
			t.Errorf("pipelined response for %s, want %s", s.Path, want)
		}
	}
}

func TestPathNormalisation(t *testing.T) {
	base := startEdge(t, proxyConfig("unix:"+startApp(t, http.HandlerFunc(echoHandler))))
	code, body := rawRequest(t, base, "GET /a/./b/../c//d HTTP/1.1\r\nHost: a\r\n\r\n")
	if code != 200 || !strings.Contains(body, `"path":"/a/c/d"`) || !strings.Contains(body, `"request_uri":"/a/./b/../c//d"`) {
		t.Errorf("status %d body %s", code, body)
	}
	for _, p := range []string{"/../etc/passwd", "/a/../../x", "/a%00b"} {
		code, _ := rawRequest(t, base, "GET "+p+" HTTP/1.1\r\nHost: a\r\n\r\n")
		if code != 400 {
			t.Errorf("%s: status %d, want 400", p, code)
		}
	}
}

func TestUpstreamErrors(t *testing.T) {
	t.Run("no server behind the socket is 502", func(t *testing.T) {
		base := startEdge(t, proxyConfig("unix:"+filepath.Join(t.TempDir(), "absent.sock")))
		resp := mustGet(t, base+"/")
		resp.Body.Close()
		if resp.StatusCode != 502 {
			t.Errorf("status %d, want 502", resp.StatusCode)
		}
	})
	t.Run("no answer within read_timeout is 504", func(t *testing.T) {
		cfg := proxyConfig("unix:" + startApp(t, http.HandlerFunc(echoHandler)))
		up := cfg.Upstreams["app"]
		up.ReadTimeout = 200 * time.Millisecond
		cfg.Upstreams["app"] = up
		base := startEdge(t, cfg)
		start := time.Now()
		resp := mustGet(t, base+"/slow")
		resp.Body.Close()
		if resp.StatusCode != 504 {
			t.Errorf("status %d, want 504", resp.StatusCode)
		}
		if d := time.Since(start); d > 1500*time.Millisecond {
			t.Errorf("took %v; the timeout is 200ms", d)
		}
	})
	t.Run("headers too large for the upstream buffer are 431", func(t *testing.T) {
		base := startEdge(t, proxyConfig("unix:"+startApp(t, http.HandlerFunc(echoHandler))))
		req, _ := http.NewRequest("GET", base+"/", nil)
		req.Header.Set("Cookie", strings.Repeat("c", 5000))
		resp := mustDo(t, req)
		resp.Body.Close()
		if resp.StatusCode != 431 {
			t.Errorf("status %d, want 431", resp.StatusCode)
		}
	})
	t.Run("a header over max_header_size is 431", func(t *testing.T) {
		base := startEdge(t, proxyConfig("unix:"+startApp(t, http.HandlerFunc(echoHandler))))
		code, _ := rawRequest(t, base, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: "+strings.Repeat("b", 40<<10)+"\r\n\r\n")
		if code != 431 {
			t.Errorf("status %d, want 431", code)
		}
	})
}

func TestBalancingAndFailover(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	app := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits[name]++
			mu.Unlock()
			io.WriteString(w, name)
		})
	}
	dead := filepath.Join(t.TempDir(), "dead.sock")
	base := startEdge(t, proxyConfig("unix:"+startApp(t, app("a")), "unix:"+dead, "unix:"+startApp(t, app("b"))))
	for range 30 {
		resp := mustGet(t, base+"/")
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d with one server down", resp.StatusCode)
		}
	}
	if hits["a"] < 10 || hits["b"] < 10 || hits["a"]+hits["b"] != 30 {
		t.Errorf("hits %v: want both live servers used and every request answered", hits)
	}
}

func TestStreamThroughEdge(t *testing.T) {
	base := startEdge(t, proxyConfig("unix:"+startApp(t, http.HandlerFunc(echoHandler))))
	resp := mustGet(t, base+"/stream")
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	var arrivals []time.Time
	for i := range 3 {
		line, err := br.ReadString('\n')
		if err != nil || line != fmt.Sprintf("line %d\n", i) {
			t.Fatalf("line %d = %q, %v", i, line, err)
		}
		arrivals = append(arrivals, time.Now())
	}
	if arrivals[2].Sub(arrivals[0]) < 40*time.Millisecond {
		t.Errorf("lines arrived together (%v apart): the edge buffered the stream", arrivals[2].Sub(arrivals[0]))
	}
}

func TestStaticAndProxyLocations(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "polls"), 0o755)
	os.WriteFile(filepath.Join(root, "polls", "style.css"), []byte("body{}"), 0o644)
	cfg := proxyConfig("unix:" + startApp(t, http.HandlerFunc(echoHandler)))
	cfg.Locations = append([]edge.LocationConfig{{Path: "/static/", Root: root}}, cfg.Locations...)
	base := startEdge(t, cfg)
	resp := mustGet(t, base+"/static/polls/style.css")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "body{}" || resp.Header.Get("ETag") == "" {
		t.Errorf("static: %d %q etag %q", resp.StatusCode, b, resp.Header.Get("ETag"))
	}
	s := getSeen(t, mustGet(t, base+"/staticky"))
	if s.Path != "/staticky" {
		t.Errorf("proxied path %q", s.Path)
	}
}

func mustDo(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func mustGet(t *testing.T, url string) *http.Response {
	req, _ := http.NewRequest("GET", url, nil)
	return mustDo(t, req)
}

func mustPost(t *testing.T, url string, body io.Reader, length int64) *http.Response {
	req, _ := http.NewRequest("POST", url, body)
	req.ContentLength = length
	return mustDo(t, req)
}
