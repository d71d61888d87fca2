package edge_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/uwsgi"
)

// waitFile polls path until it holds sub, or fails.
func waitFileHolds(t *testing.T, path, sub string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), sub) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s lacks %q:\n%s", path, sub, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A client that goes away before the upstream answers is nginx's 499, with
// no upstream error (it was never the upstream's fault).
func TestClientAbortIsLogged499(t *testing.T) {
	up := startFakeUpstream(t, func(c net.Conn, _ uwsgi.Vars) {
		io.Copy(io.Discard, c) // never answers; ends when the edge closes
	})
	cfg := uwsgiConfig(up.sock)
	cfg.AccessLog = filepath.Join(t.TempDir(), "access.log")
	base, log := startEdgeLogged(t, cfg)
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /delay HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(300 * time.Millisecond)
	c.Close()
	line := waitFileHolds(t, cfg.AccessLog, "GET /delay")
	if !strings.Contains(line, `"GET /delay HTTP/1.1" 499 `) {
		t.Errorf("access log: %q, want status 499", line)
	}
	log.waitFor(t, "client closed the connection before the upstream answered")
	if s := log.String(); strings.Contains(s, "level=ERROR") || strings.Contains(s, "timeout") {
		t.Errorf("a client abort was logged as an upstream error:\n%s", s)
	}
}

// net/http's own answer to "OPTIONS *" skipped the handler, so the framing
// verdicts of later requests on that connection were their predecessors'.
func TestOptionsStarKeepsFramingVerdictsInStep(t *testing.T) {
	base := startEdge(t, proxyConfig("unix:"+startApp(t, http.HandlerFunc(echoHandler))))
	got, _ := rawExchange(t, base, "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"+
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 5*time.Second)
	if n := strings.Count(got, "HTTP/1.1 "); n != 2 || !strings.HasPrefix(got, "HTTP/1.1 200 ") || !strings.Contains(got, "HTTP/1.1 400 ") {
		t.Errorf("want 200 for OPTIONS * then 400 for CL+TE; got:\n%s", got)
	}
	got, _ = rawExchange(t, base, "OPTIONS * HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"+
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 5*time.Second)
	if !strings.HasPrefix(got, "HTTP/1.1 400 ") || strings.Contains(got, "HTTP/1.1 200 ") {
		t.Errorf("want 400 for a CL+TE OPTIONS * and nothing after; got:\n%s", got)
	}
}

// A FIFO under a static root used to block the open forever.
func TestSpecialFileUnderStaticRootIsRefused(t *testing.T) {
	root := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(root, "pipe.css"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := edge.DefaultConfig()
	cfg.Locations = []edge.LocationConfig{{Path: "/static/", Root: root}}
	base, log := startEdgeLogged(t, cfg)
	code, _ := rawRequest(t, base, "GET /static/pipe.css HTTP/1.1\r\nHost: a\r\n\r\n")
	if code != 403 {
		t.Errorf("status %d, want 403", code)
	}
	log.waitFor(t, "not a regular file")
}

// An absolute-form target reaches the app in origin form, with the
// target's host and no credentials; the access log keeps the target the
// client sent, without its credentials.
func TestAbsoluteFormTargetBecomesOriginForm(t *testing.T) {
	cfg := proxyConfig("unix:" + startApp(t, http.HandlerFunc(echoHandler)))
	cfg.AccessLog = filepath.Join(t.TempDir(), "access.log")
	base, _ := startEdgeLogged(t, cfg)
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET http://user:pass@example.com:8080/foo?q=1 HTTP/1.1\r\nHost: other\r\n\r\n")
	resp := readRaw(t, c)
	s := getSeen(t, resp)
	if s.RequestURI != "/foo?q=1" || s.Path != "/foo" || s.Query != "q=1" || s.Host != "example.com:8080" {
		t.Errorf("app saw request_uri %q path %q query %q host %q; want /foo?q=1, /foo, q=1, example.com:8080", s.RequestURI, s.Path, s.Query, s.Host)
	}
	line := waitFileHolds(t, cfg.AccessLog, "GET ")
	if !strings.Contains(line, `"GET http://example.com:8080/foo?q=1 HTTP/1.1" 200`) || strings.Contains(line, "pass") {
		t.Errorf("access log %q: want the target without credentials", line)
	}
}

func readRaw(t *testing.T, c net.Conn) *http.Response {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// A body that stalls past client_body_timeout is nginx's 408, logged.
func TestStalledBodyIs408(t *testing.T) {
	cfg := proxyConfig("unix:" + startApp(t, http.HandlerFunc(echoHandler)))
	cfg.ClientBodyTimeout = 300 * time.Millisecond
	cfg.AccessLog = filepath.Join(t.TempDir(), "access.log")
	base, log := startEdgeLogged(t, cfg)
	got, _ := rawExchange(t, base, "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nonly ten b", 5*time.Second)
	if !strings.HasPrefix(got, "HTTP/1.1 408 ") {
		t.Errorf("got %q, want 408", got)
	}
	waitFileHolds(t, cfg.AccessLog, `"POST /up HTTP/1.1" 408 `)
	log.waitFor(t, "client_body_timeout fired")
}

// TE is hop-by-hop: never forwarded, "trailers" included.
func TestTEIsNotForwarded(t *testing.T) {
	base := startEdge(t, proxyConfig("unix:"+startApp(t, http.HandlerFunc(echoHandler))))
	req, _ := http.NewRequest("GET", base+"/", nil)
	req.Header.Set("TE", "trailers")
	req.Header.Set("Connection", "TE")
	s := getSeen(t, mustDo(t, req))
	if v, ok := s.Header["Te"]; ok {
		t.Errorf("the app got TE: %q", v)
	}
}
