package appserver

import (
	"context"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// A handler that calls runtime.Goexit (t.FailNow in a handler, a library
// ending its goroutine) ends the goroutine serving the request. Served on
// an accept loop, that loop is gone: its connection must still be closed
// (the peer sees the end, not a hang) and untracked, so that Shutdown does
// not wait for it, and the pool must go on accepting.
func TestBrkGoexitHandlerClosesAndUntracks(t *testing.T) {
	for _, threads := range []int{0, 2} {
		oneP(t)
		s := &Server{Threads: threads, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/goexit" {
				runtime.Goexit()
			}
			w.Write([]byte("ok"))
		})}
		sock := startServer(t, s)
		for range 3 {
			c, err := net.Dial("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			c.Write(request("GET", "/goexit", ""))
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			buf := make([]byte, 512)
			n, err := c.Read(buf)
			c.Close()
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("threads %d: a handler that called Goexit left its connection open (read %q)", threads, buf[:n])
			}
			if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 500 ") {
				t.Fatalf("threads %d: a handler that called Goexit: got %q, want a 500", threads, buf[:n])
			}
		}
		if _, body := do(t, sock, "GET", request("GET", "/fast", "")); body != "ok" {
			t.Fatalf("threads %d: after Goexit handlers: %q", threads, body)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := s.Shutdown(ctx)
		cancel()
		if err != nil {
			t.Errorf("threads %d: Shutdown after Goexit handlers: %v", threads, err)
		}
	}
}
