package appserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stack-web/stack/uwsgi"
	"github.com/stack-web/stack/uwsgi/uwsgitest"
)

// startServer serves h on a Unix socket in a temporary directory and stops
// the server when the test ends.
func startServer(t *testing.T, s *Server) string {
	t.Helper()
	if s.Logger == nil {
		s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	path := filepath.Join(t.TempDir(), "app.sock")
	l, err := Listen("unix:"+path, 0o660)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return path
}

func TestServeResponses(t *testing.T) {
	big := strings.Repeat("x", 3*pendingSize)
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "Hello, web!\n")
	})
	mux.HandleFunc("/sniff", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html><body>x</body></html>")) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big) })
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	mux.HandleFunc("/nocontent", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		w.Write([]byte("dropped"))
	})
	mux.HandleFunc("/declared", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "12345")
	})
	mux.HandleFunc("/inject", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo", r.Header.Get("X-In")+"\r\nSet-Cookie: evil=1")
	})
	mux.HandleFunc("/sum", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintf(w, "%d %s", n, hex.EncodeToString(h.Sum(nil)))
	})
	mux.HandleFunc("/ignorebody", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ignored") })
	mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	sock := startServer(t, &Server{Handler: mux})

	payload := strings.Repeat("0123456789abcdef", 65536) // 1 MiB
	sum := sha256.Sum256([]byte(payload))
	tests := []struct {
		name, method, uri, body string
		headers                 []string
		status                  int
		wantBody                string
		wantHeader              map[string]string
		noHeader                []string
	}{
		{name: "hello", method: "GET", uri: "/hello", status: 200, wantBody: "Hello, web!\n",
			wantHeader: map[string]string{"Content-Length": "12", "Content-Type": "text/plain"}},
		{name: "head", method: "HEAD", uri: "/hello", status: 200, wantBody: "", wantHeader: map[string]string{"Content-Length": "12"}},
		{name: "sniffed type", method: "GET", uri: "/sniff", status: 200, wantBody: "<html><body>x</body></html>",
			wantHeader: map[string]string{"Content-Type": "text/html; charset=utf-8"}},
		{name: "big body without length", method: "GET", uri: "/big", status: 200, wantBody: big, noHeader: []string{"Content-Length"}},
		{name: "status only", method: "GET", uri: "/status", status: 418, wantBody: "", wantHeader: map[string]string{"Content-Length": "0"}},
		{name: "204 has no body", method: "GET", uri: "/nocontent", status: 204, wantBody: "", noHeader: []string{"Content-Length"}},
		{name: "declared length", method: "GET", uri: "/declared", status: 200, wantBody: "12345", wantHeader: map[string]string{"Content-Length": "5"}},
		{name: "no header injection", method: "GET", uri: "/inject", headers: []string{"X-In", "a"}, status: 200, noHeader: []string{"Set-Cookie", "X-Echo"}},
		{name: "1 MiB body", method: "POST", uri: "/sum", body: payload, status: 200, wantBody: fmt.Sprintf("%d %x", len(payload), sum)},
		{name: "unread body", method: "POST", uri: "/ignorebody", body: payload, status: 200, wantBody: "ignored"},
		{name: "panic", method: "GET", uri: "/panic", status: 500, wantBody: "500 Internal Server Error\n"},
		{name: "not found", method: "GET", uri: "/nope", status: 404, wantBody: "404 page not found\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, sock, tt.method, request(tt.method, tt.uri, tt.body, tt.headers...))
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			if body != tt.wantBody {
				t.Errorf("body = %.80q (%d bytes), want %.80q (%d bytes)", body, len(body), tt.wantBody, len(tt.wantBody))
			}
			for k, v := range tt.wantHeader {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			for _, k := range tt.noHeader {
				if v, ok := resp.Header[k]; ok {
					t.Errorf("header %s = %q, want none", k, v)
				}
			}
		})
	}
}

func TestStreamedResponseArrivesAsWritten(t *testing.T) {
	next := make(chan struct{})
	sock := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range 3 {
			fmt.Fprintf(w, "line %d\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	})})
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write(request("GET", "/stream", ""))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ContentLength != -1 {
		t.Errorf("streamed response has Content-Length %d", resp.ContentLength)
	}
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		// The handler is blocked until we read this line: it must have
		// arrived on its own, not at the end of the response.
		line, err := br.ReadString('\n')
		if err != nil || line != fmt.Sprintf("line %d\n", i) {
			t.Fatalf("line %d = %q, %v", i, line, err)
		}
		next <- struct{}{}
	}
	if rest, _ := io.ReadAll(br); len(rest) != 0 {
		t.Errorf("trailing data %q", rest)
	}
}

func TestMalformedPacketLeavesServerServing(t *testing.T) {
	var served atomic.Int32
	sock := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		io.WriteString(w, "ok")
	})})
	bad := [][]byte{
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), // HTTP to a uwsgi socket
		{0, 0xff, 0xff, 0},                          // block over the buffer size
		{0, 10, 0, 0, 5, 0, 'a'},                    // truncated
		{0, 7, 0, 0, 1, 0, 'a', 1, 0, 'b', 9},       // overrun
		packetWithDupMethod(),                       // duplicate REQUEST_METHOD
		{200, 0, 0, 0},                              // unknown modifier1
		request("G T", "/", ""),                     // bad method: 400
		append(request("GET", "/", "")[:4:4], 1, 2), // short block
	}
	for i, raw := range bad {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(raw)
		if cw, ok := c.(*net.UnixConn); ok {
			cw.CloseWrite()
		}
		out, err := io.ReadAll(c)
		c.Close()
		if err != nil {
			t.Errorf("packet %d: reading: %v", i, err)
		}
		if len(out) > 0 && !bytes.HasPrefix(out, []byte("HTTP/1.1 400 ")) {
			t.Errorf("packet %d: answer %q, want nothing or a 400", i, out)
		}
		resp, body := do(t, sock, "GET", request("GET", "/", ""))
		if resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("after bad packet %d: %d %q", i, resp.StatusCode, body)
		}
	}
	if got := served.Load(); got != int32(len(bad)) {
		t.Errorf("handler ran %d times, want %d (only for the good requests)", got, len(bad))
	}
}

func TestNothingAfterTheBodyIsParsed(t *testing.T) {
	// A second packet smuggled after the first request's body must never
	// reach the handler (unbit/uwsgi#2336).
	var paths []string
	done := make(chan struct{}, 2)
	sock := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		done <- struct{}{}
	})})
	raw := append(request("POST", "/first", "abc"), request("GET", "/smuggled", "")...)
	resp, _ := do(t, sock, "POST", raw)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	<-done
	if len(paths) != 1 || paths[0] != "/first" {
		t.Errorf("handler saw %v, want only /first", paths)
	}
}

func TestThreadsLimitsConcurrency(t *testing.T) {
	var running, peak atomic.Int32
	release := make(chan struct{})
	sock := startServer(t, &Server{Threads: 2, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		running.Add(-1)
	})})
	results := make(chan int, 5)
	for range 5 {
		go func() {
			resp, _ := do(t, sock, "GET", request("GET", "/", ""))
			results <- resp.StatusCode
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for running.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // give a third request the chance to (wrongly) start
	close(release)
	for range 5 {
		if code := <-results; code != 200 {
			t.Errorf("status %d", code)
		}
	}
	if p := peak.Load(); p != 2 {
		t.Errorf("peak concurrency %d, want 2", p)
	}
}

func TestHarakiriCancelsAndAnswers504(t *testing.T) {
	cancelled := make(chan struct{})
	var logs syncBuffer
	sock := startServer(t, &Server{Harakiri: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
			close(cancelled)
		})})
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write(request("GET", "/slow", ""))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer after harakiri: %v", err)
	}
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("status %d after harakiri, want 504", resp.StatusCode)
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("handler context was not cancelled")
	}
	// The log names the request and shows the stuck handler's stack.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "stack=") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	out := logs.String()
	for _, want := range []string{"harakiri", "uri=/slow", "method=GET", "TestHarakiriCancelsAndAnswers504"} {
		if !strings.Contains(out, want) {
			t.Errorf("harakiri log lacks %q:\n%s", want, out)
		}
	}
}

func TestShutdownWaitsForInFlight(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	s := &Server{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "finished")
	})}
	path := filepath.Join(t.TempDir(), "app.sock")
	l, err := Listen("unix:"+path, 0o660)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()

	got := make(chan string, 1)
	go func() {
		_, body := do(t, path, "GET", request("GET", "/", ""))
		got <- body
	}()
	<-started
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()

	// Once shut down, the socket is gone and new connections fail.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("socket file still there after Shutdown began")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		t.Error("a new connection was accepted during shutdown")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v before the in-flight request finished", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if body := <-got; body != "finished" {
		t.Errorf("in-flight request got %q", body)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
}

// packetWithDupMethod is a packet with REQUEST_METHOD twice.
func packetWithDupMethod() []byte {
	var e uwsgi.Encoder
	e.Reset(nil, 0, 0)
	e.Add("REQUEST_METHOD", "GET")
	e.Add("PATH_INFO", "/")
	e.Add("REQUEST_METHOD", "POST")
	b, _ := e.Bytes(0)
	return b
}

// The uwsgi test clients: packets as nginx sends them, over the socket.
var (
	request     = uwsgitest.Request
	do          = uwsgitest.Do
	rawExchange = uwsgitest.Exchange
)

// A stop that comes with its deadline already passed (the edge used up the
// grace period) reports nothing running when nothing is: it used to say
// "requests still running" about half the time (break-it 15).
func TestShutdownWithAnExpiredContextAndNothingRunning(t *testing.T) {
	for i := range 20 {
		s := &Server{Handler: http.NotFoundHandler(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		l, err := Listen("unix:"+filepath.Join(t.TempDir(), "app.sock"), 0o660)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- s.Serve(l) }()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Fatalf("stop %d: Shutdown with nothing running: %v", i+1, err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Fatalf("Serve returned %v", err)
		}
	}
}
