package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// edgeCountingServer is an HTTP upstream that counts what reaches it. A
// flaky one takes each request and closes the connection without a byte
// of response, as a worker that dies mid-request does.
type edgeCountingServer struct {
	addr   string
	flaky  bool
	mu     sync.Mutex
	counts map[string]int // method → requests seen
	bodies []string       // bodies of the requests answered
}

func newEdgeCountingServer(t *testing.T, flaky bool) *edgeCountingServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &edgeCountingServer{addr: l.Addr().String(), flaky: flaky, counts: map[string]int{}}
	srv := &http.Server{Handler: s}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *edgeCountingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.counts[r.Method]++
	if !s.flaky {
		s.bodies = append(s.bodies, string(body))
	}
	s.mu.Unlock()
	if s.flaky {
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			c.Close()
		}
		return
	}
	fmt.Fprintf(w, "ok %s %d\n", r.Method, len(body))
}

func (s *edgeCountingServer) count(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[method]
}

// edgeProxyConfig is `stack edge` in front of the given upstream block.
func edgeProxyConfig(upstream string) string {
	return `
run_dir: run
edge:
  listen: ["127.0.0.1:0"]
  locations:
    - {path: /, upstream: app}
  upstreams:
    app: ` + upstream + "\n"
}

// edgeDo sends one request with a fresh connection (no client retry).
func edgeDo(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Close = true
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return resp.StatusCode, string(b)
}

func TestEdgeRetriesGETButNeverResendsPOST(t *testing.T) {
	flaky, good := newEdgeCountingServer(t, true), newEdgeCountingServer(t, false)
	dir := writeConfig(t, edgeProxyConfig(fmt.Sprintf(`{protocol: http, max_fails: 0, servers: [%q, %q]}`, flaky.addr, good.addr)))
	url := start(t, dir, "edge").url()

	for i := range 10 {
		if code, body := edgeDo(t, "GET", url, ""); code != 200 {
			t.Fatalf("GET %d: %d %q, want 200 (retried on the other server)", i, code, body)
		}
	}
	status := map[int]int{}
	for i := range 10 {
		code, _ := edgeDo(t, "POST", url, fmt.Sprintf("post-%d", i))
		status[code]++
	}
	t.Logf("GET: flaky saw %d, good saw %d; POST statuses %v, flaky saw %d, good saw %d",
		flaky.count("GET"), good.count("GET"), status, flaky.count("POST"), good.count("POST"))
	if status[200]+status[502] != 10 || status[502] == 0 || status[200] == 0 {
		t.Errorf("POST statuses %v, want both 200 and 502 and nothing else", status)
	}
	if n := flaky.count("POST"); n != status[502] {
		t.Errorf("the flaky server saw %d POSTs for %d answers of 502: a POST was sent twice", n, status[502])
	}
	if n := good.count("POST"); n != status[200] {
		t.Errorf("the good server saw %d POSTs for %d answers of 200: a POST that had failed was re-sent", n, status[200])
	}
}

// Issue 15.4: a request with a body fails over to the next server with its
// body intact (it used to fail with "invalid Read on closed Body").
func TestEdgeFailsOverARequestWithABody(t *testing.T) {
	good := newEdgeCountingServer(t, false)
	dead := fmt.Sprintf("127.0.0.1:%d", freePort(t)) // nothing listens there
	dir := writeConfig(t, edgeProxyConfig(fmt.Sprintf(`{protocol: http, max_fails: 0, servers: [%q, %q]}`, dead, good.addr)))
	url := start(t, dir, "edge").url()
	big := strings.Repeat("x", 200<<10) // past client_body_buffer_size: from a file
	for i := range 6 {
		body := fmt.Sprintf("body-%d", i)
		if i%2 == 1 {
			body += big
		}
		for _, method := range []string{"POST", "PUT"} {
			if code, got := edgeDo(t, method, url, body); code != 200 || got != fmt.Sprintf("ok %s %d\n", method, len(body)) {
				t.Fatalf("%s %d: %d %q", method, i, code, got)
			}
		}
	}
	good.mu.Lock()
	defer good.mu.Unlock()
	for i, b := range good.bodies {
		if want := fmt.Sprintf("body-%d", i/2); !strings.HasPrefix(b, want) {
			t.Errorf("request %d reached the server with body %.20q…, want %q…", i, b, want)
		}
	}
}

func TestEdgeGETsSurviveAKilledAppserver(t *testing.T) {
	dir := writeConfig(t, `
run_dir: run
edge:
  listen: ["127.0.0.1:0"]
  locations:
    - {path: /, upstream: app}
  upstreams:
    app: {servers: ["unix:run/a.sock", "unix:run/b.sock"]}
appserver:
  listen: unix:run/a.sock
  app: echo
`)
	start(t, dir, "appserver")
	b := start(t, dir, "appserver", "--set", "appserver.listen=unix:run/b.sock")
	waitFile(t, filepath.Join(dir, "run", "a.sock"))
	waitFile(t, filepath.Join(dir, "run", "b.sock"))
	edge := start(t, dir, "edge")
	addr := strings.TrimSuffix(strings.TrimPrefix(edge.url(), "http://"), "/")

	stop := make(chan struct{})
	go func() {
		time.Sleep(1500 * time.Millisecond)
		b.cmd.Process.Signal(syscall.SIGKILL) // requests in flight on b die with it
		time.Sleep(1500 * time.Millisecond)
		close(stop)
	}()
	posts := make(chan *loadResult, 1)
	go func() {
		posts <- load{Addr: addr, Conns: 4, Request: func(int, int) string {
			return "POST /delay/0.02 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
		}}.run(t, stop, 10*time.Second)
	}()
	res := load{Addr: addr, Conns: 8, Request: func(int, int) string {
		return "GET /delay/0.02 HTTP/1.1\r\nHost: x\r\n\r\n"
	}}.run(t, stop, 10*time.Second)
	post := <-posts
	t.Logf("with one of two appservers SIGKILLed: GETs %s; POSTs %s", res, post)
	if res.Failed() != 0 || res.Total() == 0 {
		t.Errorf("%d of %d GETs failed, want 0: %s", res.Failed(), res.Total(), res)
	}
	// A POST that was in flight on the killed server is answered 502
	// (not re-sent: the app may have acted on it), never left unanswered.
	if post.Failed() != post.Status[502] || post.OK == 0 {
		t.Errorf("POSTs: %s; want 2xx, and 502 for those that died with the server", post)
	}
	if out := edge.Output(); !strings.Contains(out, "upstream server marked down") {
		t.Errorf("the edge did not log that b was marked down:\n%s", out)
	}
}

// edgeSlowUwsgiServer listens on a Unix socket with a listen queue of one
// and accepts a connection every interval, answering each with 200: a
// stand-in for an app server whose workers are all busy.
func edgeSlowUwsgiServer(t *testing.T, path string, interval time.Duration) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 1); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), path)
	l, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			time.Sleep(interval)
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				var head [4]byte
				if _, err := io.ReadFull(br, head[:]); err != nil {
					return
				}
				n := int(head[1]) | int(head[2])<<8
				io.CopyN(io.Discard, br, int64(n))
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
			}()
		}
	}()
}

func TestEdgeAnswers503WhenTheAppQueueIsFull(t *testing.T) {
	dir := writeConfig(t, edgeProxyConfig(`{servers: ["unix:run/slow.sock"], connect_timeout: 300ms}`))
	os.MkdirAll(filepath.Join(dir, "run"), 0o700)
	edgeSlowUwsgiServer(t, filepath.Join(dir, "run", "slow.sock"), 20*time.Millisecond)
	url := start(t, dir, "edge").url()

	var mu sync.Mutex
	status := map[int]int{}
	var retryAfter atomic.Int32
	var wg sync.WaitGroup
	for range 60 {
		wg.Go(func() {
			resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}).Get(url)
			code := -1
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				code = resp.StatusCode
				if code == 503 && resp.Header.Get("Retry-After") == "1" {
					retryAfter.Add(1)
				}
			}
			mu.Lock()
			status[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	t.Logf("60 requests at once to an app that accepts one every 20ms, queue of 1: %v", status)
	if status[200]+status[503] != 60 || status[200] == 0 || status[503] == 0 {
		t.Errorf("statuses %v, want 200 and 503 only (never 502)", status)
	}
	if int(retryAfter.Load()) != status[503] {
		t.Errorf("%d of %d answers of 503 had Retry-After: 1", retryAfter.Load(), status[503])
	}
}

func TestEdgeBurstOf2000Connections(t *testing.T) {
	dir := writeConfig(t, strings.Replace(helloConfig, "app: hello", "app: echo", 1))
	url := start(t, dir, "up").url()
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/")

	const n = 2000
	var mu sync.Mutex
	status := map[int]int{}
	failures := map[string]int{}
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-gate
			code, err := edgeOneGET(addr)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if len(failures) < 5 {
					failures[err.Error()]++
				} else {
					failures["…"]++
				}
				return
			}
			status[code]++
		})
	}
	start := time.Now()
	close(gate)
	wg.Wait()
	t.Logf("%d connections opened at once, one GET each: %v, failures %v, in %v", n, status, failures, time.Since(start).Round(time.Millisecond))
	if status[200]+status[503] != n {
		t.Errorf("statuses %v, failures %v: want every one answered 200 or 503", status, failures)
	}
}

// edgeOneGET opens a connection, sends one GET and reads the answer.
func edgeOneGET(addr string) (int, error) {
	c, err := net.DialTimeout("tcp", addr, 30*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}
