package appserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// oneP runs the test with one P, as a worker process has (cpuShare): the
// accept loop serving a request is then the only goroutine running, and
// the spare gets the CPU only when it yields.
func oneP(t *testing.T) {
	old := runtime.GOMAXPROCS(1)
	t.Cleanup(func() { runtime.GOMAXPROCS(old) })
}

// A handler that blocks keeps the loop that accepted its connection; the
// spare must take over accepting, or every later connection would wait
// for it.
func TestBlockedHandlerDoesNotStopAccepting(t *testing.T) {
	oneP(t)
	started := make(chan struct{})
	release := make(chan struct{})
	sock := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			close(started)
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
		}
		io.WriteString(w, "done "+r.URL.Path)
	})})
	blocked := make(chan string, 1)
	go func() {
		_, body := do(t, sock, "GET", request("GET", "/block", ""))
		blocked <- body
	}()
	<-started
	for i := range 3 {
		done := make(chan string, 1)
		go func() {
			_, body := do(t, sock, "GET", request("GET", "/fast", ""))
			done <- body
		}()
		select {
		case body := <-done:
			if body != "done /fast" {
				t.Fatalf("request %d behind a blocked handler got %q", i, body)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("request %d not served while another handler blocks", i)
		}
	}
	close(release)
	if body := <-blocked; body != "done /block" {
		t.Errorf("blocked request got %q", body)
	}
}

// A handler that computes without ever blocking yields only when the
// runtime preempts it; the spare must then take over as well.
func TestSpinningHandlerDoesNotStopAccepting(t *testing.T) {
	oneP(t)
	var fastServed atomic.Bool
	spinning := make(chan struct{})
	sock := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/spin" {
			close(spinning)
			for deadline := time.Now().Add(10 * time.Second); !fastServed.Load() && time.Now().Before(deadline); {
			}
			if !fastServed.Load() {
				io.WriteString(w, "gave up")
				return
			}
		} else {
			fastServed.Store(true)
		}
		io.WriteString(w, "done "+r.URL.Path)
	})})
	spun := make(chan string, 1)
	go func() {
		_, body := do(t, sock, "GET", request("GET", "/spin", ""))
		spun <- body
	}()
	<-spinning
	if _, body := do(t, sock, "GET", request("GET", "/fast", "")); body != "done /fast" {
		t.Errorf("request behind a spinning handler got %q", body)
	}
	if body := <-spun; body != "done /spin" {
		t.Errorf("spinning handler: %q (the other request was not served while it ran)", body)
	}
}

// The loops that took over while handlers blocked end once they are back
// and others are free: the pool shrinks to what the load needs.
func TestAcceptLoopsShrinkBack(t *testing.T) {
	oneP(t)
	const n = 20
	var started sync.WaitGroup
	started.Add(n)
	release := make(chan struct{})
	sock := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			started.Done()
			<-release
		}
		io.WriteString(w, "ok")
	})})
	do(t, sock, "GET", request("GET", "/", "")) // the pool is running
	before := runtime.NumGoroutine()
	var clients sync.WaitGroup
	for range n {
		clients.Go(func() {
			if _, body := do(t, sock, "GET", request("GET", "/block", "")); body != "ok" {
				t.Errorf("blocked request got %q", body)
			}
		})
	}
	started.Wait()
	during := runtime.NumGoroutine()
	close(release)
	clients.Wait()
	for range 20 { // the pool shrinks as the loops come back and serve
		do(t, sock, "GET", request("GET", "/", ""))
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		do(t, sock, "GET", request("GET", "/", ""))
		time.Sleep(10 * time.Millisecond)
	}
	after := runtime.NumGoroutine()
	t.Logf("goroutines: %d before, %d with %d handlers blocked, %d after", before, during, n, after)
	if during < before+n {
		t.Errorf("%d goroutines with %d handlers blocked, %d before: were they served one by one?", during, n, before)
	}
	if after > before+2 {
		t.Errorf("%d goroutines after the blocked requests ended, %d before: the loops did not end", after, before)
	}
}

// Shutdown's deadline holds with a handler that ignores its context on an
// accept loop, and Serve returns at once.
func TestShutdownDeadlineWithBlockedLoop(t *testing.T) {
	oneP(t)
	started := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	s := &Server{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
	})}
	path := filepath.Join(t.TempDir(), "app.sock")
	l, err := Listen("unix:"+path, 0o660)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(request("GET", "/", ""))
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	begun := time.Now()
	err = s.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v, want the deadline's error", err)
	}
	if took := time.Since(begun); took > 3*time.Second {
		t.Errorf("Shutdown took %v with a 200ms deadline", took)
	}
	select {
	case err := <-served:
		if !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Error("Serve did not return after Shutdown")
	}
}

// Harakiri finds the stuck handler's stack by the label of the loop that
// serves it, also after the loop served other connections.
func TestHarakiriStackOnAcceptLoop(t *testing.T) {
	oneP(t)
	var logs syncBuffer
	sock := startServer(t, &Server{Harakiri: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				stuckInTestHandler(r.Context())
			}
			io.WriteString(w, "ok")
		})})
	for range 5 {
		if _, body := do(t, sock, "GET", request("GET", "/", "")); body != "ok" {
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
	if out := logs.String(); !strings.Contains(out, "stuckInTestHandler") {
		t.Errorf("harakiri log lacks the handler's stack:\n%s", out)
	}
}

func stuckInTestHandler(ctx context.Context) { <-ctx.Done() }
