package edge_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stack-web/stack/edge/upstream"
)

// rawUpstream answers every request on its connection with resp, as an
// HTTP server that frames but does not type its answers.
func rawUpstream(t *testing.T, resp string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					if _, err := io.WriteString(c, resp); err != nil {
						return
					}
				}
			})
		}
	})
	return l.Addr().String()
}

// An upstream response without Content-Type reaches the client without
// one: net/http sniffed "<html>" into text/html.
func TestEdgeDoesNotSniffAContentType(t *testing.T) {
	body := "<html><script>alert(1)</script></html>"
	addr := rawUpstream(t, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
	cfg := proxyConfig(addr)
	up := cfg.Upstreams["app"]
	up.Protocol = "http"
	cfg.Upstreams = map[string]upstream.Config{"app": up}
	base := startEdge(t, cfg)
	for _, path := range []string{"/", "/x"} {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		c.Close()
		if ct, ok := resp.Header["Content-Type"]; ok || string(got) != body {
			t.Errorf("Content-Type %q (present %v), body %q", ct, ok, got)
		}
	}
}

// read_timeout bounds a pause in the response body of an http upstream
// too, as it does over uwsgi: a server that sends half its body and then
// nothing must not hold the client forever. The client's response is
// aborted (it cannot be completed).
func TestEdgeHTTPUpstreamBodyPauseIsBounded(t *testing.T) {
	for _, size := range []int{100, 1 << 20} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		release := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			http.ReadRequest(bufio.NewReader(c))
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(size)+"\r\n\r\n"+strings.Repeat("s", size/2))
			<-release
		})
		cfg := proxyConfig(l.Addr().String())
		up := cfg.Upstreams["app"]
		up.Protocol, up.ReadTimeout = "http", 300*time.Millisecond
		cfg.Upstreams = map[string]upstream.Config{"app": up}
		base := startEdge(t, cfg)
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		got, err := io.ReadAll(c)
		c.Close()
		close(release)
		l.Close()
		wg.Wait()
		if err != nil {
			t.Errorf("%d bytes: the edge held the client past read_timeout: %v after %d bytes", size, err, len(got))
		}
	}
}

// Interim responses of an http upstream are skipped, as over uwsgi (and
// as nginx does by default): ReverseProxy passed them on, a 100 Continue
// the client never asked for included, and to HTTP/1.0 clients too.
func TestEdgeHTTPUpstreamInterimResponsesAreSkipped(t *testing.T) {
	addr := rawUpstream(t, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"+
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	cfg := proxyConfig(addr)
	up := cfg.Upstreams["app"]
	up.Protocol = "http"
	cfg.Upstreams = map[string]upstream.Config{"app": up}
	base := startEdge(t, cfg)
	for _, proto := range []string{"HTTP/1.1", "HTTP/1.0"} {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET / "+proto+"\r\nHost: a\r\nConnection: close\r\n\r\n")
		got, _ := io.ReadAll(c)
		c.Close()
		if !strings.HasPrefix(string(got), proto+" 200 ") || !strings.HasSuffix(string(got), "\r\n\r\nok") {
			t.Errorf("%s client got %q, want the final 200 alone", proto, got)
		}
	}
}

// X-Accel-* headers are the app's instructions to the proxy; nginx hides
// them from the client, and so does the edge (X-Accel-Redirect, which
// the edge follows, is accel_test.go's).
func TestEdgeHidesXAccelHeaders(t *testing.T) {
	addr := rawUpstream(t, "HTTP/1.1 200 OK\r\nX-Accel-Limit-Rate: 1000\r\nX-Accel-Expires: 0\r\n"+
		"X-Accel-Buffering: no\r\nX-Kept: 1\r\nContent-Length: 2\r\n\r\nok")
	cfg := proxyConfig(addr)
	up := cfg.Upstreams["app"]
	up.Protocol = "http"
	cfg.Upstreams = map[string]upstream.Config{"app": up}
	base := startEdge(t, cfg)
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for name := range resp.Header {
		if strings.HasPrefix(name, "X-Accel-") {
			t.Errorf("the client got %s: %q", name, resp.Header[name])
		}
	}
	if resp.Header.Get("X-Kept") != "1" {
		t.Errorf("other headers lost: %v", resp.Header)
	}
}

// An http upstream's response head is bounded as a uwsgi one is: a 2 MiB
// header is a 502 ("upstream sent too big header" in nginx), not passed on.
func TestEdgeHTTPUpstreamHeadIsBounded(t *testing.T) {
	addr := rawUpstream(t, "HTTP/1.1 200 OK\r\nX-Big: "+strings.Repeat("b", 2<<20)+"\r\nContent-Length: 2\r\n\r\nok")
	cfg := proxyConfig(addr)
	up := cfg.Upstreams["app"]
	up.Protocol = "http"
	cfg.Upstreams = map[string]upstream.Config{"app": up}
	base := startEdge(t, cfg)
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("X-Big") != "" {
		t.Errorf("status %d, X-Big of %d bytes; want 502 and no header", resp.StatusCode, len(resp.Header.Get("X-Big")))
	}
}
