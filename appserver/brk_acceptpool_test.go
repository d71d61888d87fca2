package appserver

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/uwsgi"
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

// A handler that labels its goroutine for the profiler (pprof.Do restores
// the labels of the context it was given, not the goroutine's) must not
// strip the accept loop's label, by which harakiri finds the stack of a
// later request stuck on the same loop, nor leave its own labels on the
// requests the loop serves next.
func TestBrkHandlerLabelsDoNotOutliveItsRequest(t *testing.T) {
	oneP(t)
	var logs syncBuffer
	sock := startServer(t, &Server{Harakiri: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/labels":
				pprof.Do(r.Context(), pprof.Labels("handler", "labels"), func(context.Context) {})
			case "/setlabels":
				pprof.SetGoroutineLabels(pprof.WithLabels(r.Context(), pprof.Labels("handler", "leaked")))
			case "/slow":
				stuckInTestHandler(r.Context())
			}
			io.WriteString(w, "ok")
		})})
	for _, path := range []string{"/labels", "/setlabels"} {
		if _, body := do(t, sock, "GET", request("GET", path, "")); body != "ok" {
			t.Fatalf("got %q", body)
		}
	}
	if resp, _ := do(t, sock, "GET", request("GET", "/slow", "")); resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("status %d after harakiri, want 504", resp.StatusCode)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "stack=") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	out := logs.String()
	if !strings.Contains(out, "stuckInTestHandler") {
		t.Errorf("after a handler set profiler labels, the harakiri log lacks the stuck handler's stack:\n%s", out)
	}
	if strings.Contains(out, "leaked") {
		t.Errorf("a handler's profiler labels stayed on the goroutine serving the next request:\n%s", out)
	}
}

// On a kept connection (the edge's keep-alive), a Goexit's 500 must not
// offer the connection for another request: it is closed.
func TestBrkGoexitOnKeptConnectionIsNotKept(t *testing.T) {
	sock := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/goexit" {
			runtime.Goexit()
		}
		w.Write([]byte("ok"))
	})})
	k := dialKept(t, sock)
	if resp, body := k.do("GET", keepVars(t, keptRequest("GET", "/first", ""))); body != "ok" || resp.Header.Get(uwsgi.KeepAliveHeader) == "" {
		t.Fatalf("first request on a kept connection: %q, header %v", body, resp.Header)
	}
	resp, _ := k.do("GET", keepVars(t, keptRequest("GET", "/goexit", "")))
	if resp.StatusCode != http.StatusInternalServerError || resp.Header.Get(uwsgi.KeepAliveHeader) != "" {
		t.Errorf("Goexit on a kept connection: status %d, header %v; want a 500 that does not keep the connection", resp.StatusCode, resp.Header)
	}
	if !k.closed() {
		t.Error("the connection stayed open after a handler called Goexit")
	}
}

// A request's context ends when its handler returns, as net/http's does,
// with harakiri off too: a goroutine or an AfterFunc that waits on it (a
// cleanup, a watcher) must not stay for ever, one per request.
func TestBrkRequestContextEndsWithTheHandler(t *testing.T) {
	for _, harakiri := range []time.Duration{0, 30 * time.Second} {
		ended := make(chan struct{}, 1)
		sock := startServer(t, &Server{Harakiri: harakiri, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			context.AfterFunc(r.Context(), func() { ended <- struct{}{} })
			w.Write([]byte("ok"))
		})})
		if _, body := do(t, sock, "GET", request("GET", "/", "")); body != "ok" {
			t.Fatalf("got %q", body)
		}
		select {
		case <-ended:
		case <-time.After(3 * time.Second):
			t.Errorf("harakiri %v: the request's context was not cancelled when its handler returned", harakiri)
		}
	}
}
