package appserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stack-web/stack/uwsgi"
)

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// framedRequest is a GET as the edge sends it: asking for chunked framing.
func framedRequest(uri string) []byte {
	var e uwsgi.Encoder
	e.Reset(nil, 0, 0)
	e.Add("REQUEST_METHOD", "GET")
	e.Add("REQUEST_URI", uri)
	e.Add("PATH_INFO", uri)
	e.Add("SERVER_PROTOCOL", "HTTP/1.1")
	e.Add("HTTP_HOST", "test")
	e.Add("STACK_RESPONSE_FRAMING", "chunked")
	b, err := e.Bytes(0)
	if err != nil {
		panic(err)
	}
	return b
}

// Issue 15 item 1: a streamed response cut by a panic must not look
// complete. With the edge's framing var it is chunked and lacks the last
// chunk; a normal one ends with it.
func TestChunkedFramingMarksTheEnd(t *testing.T) {
	line := strings.Repeat("y", 1000) + "\n"
	sock := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 6 {
			io.WriteString(w, line)
			w.(http.Flusher).Flush()
		}
		if r.URL.Path == "/panic" {
			panic("mid-body")
		}
	})})

	ok := rawExchange(t, sock, framedRequest("/ok"))
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(ok)), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || len(body) != 6*len(line) {
		t.Errorf("normal streamed body: %d bytes, %v", len(body), err)
	}
	if resp.TransferEncoding == nil || !strings.HasSuffix(ok, "0\r\n\r\n") {
		t.Errorf("normal streamed response not chunked with a last chunk: TE %v, tail %q", resp.TransferEncoding, ok[max(0, len(ok)-20):])
	}

	cut := rawExchange(t, sock, framedRequest("/panic"))
	resp, err = http.ReadResponse(bufio.NewReader(strings.NewReader(cut)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a response cut by a panic read as complete (err %v); tail %q", err, cut[max(0, len(cut)-20):])
	}

	// Without the var (nginx), the body stays close-delimited, as uWSGI's.
	plain := rawExchange(t, sock, request("GET", "/ok", ""))
	if strings.Contains(strings.ToLower(plain), "transfer-encoding") {
		t.Errorf("chunked framing sent to a peer that did not ask for it:\n%.200s", plain)
	}
}

// Issue 15 item 2: Shutdown returns at its deadline even if a handler
// ignores its context, and the request's context is cancelled.
func TestShutdownHonoursItsDeadline(t *testing.T) {
	started := make(chan struct{})
	cancelled := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	s := &Server{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		close(cancelled)
		<-release // and ignores it
	})}
	path := filepath.Join(t.TempDir(), "app.sock")
	l, err := Listen("unix:"+path, 0o660)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	go rawExchange(t, path, request("GET", "/delay", ""))
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown: %v, want the deadline's error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return at its deadline")
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Error("the request's context was not cancelled at the deadline")
	}
}

// Issue 15 item 3: with threads: 1, a handler that ignores harakiri's
// cancel must not hold the only slot.
func TestHarakiriFreesTheThreadsSlot(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	sock := startServerNoWait(t, &Server{Threads: 1, Harakiri: 100 * time.Millisecond,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/stuck" {
				<-release // ignores its context
				return
			}
			io.WriteString(w, "next")
		})})
	go rawExchange(t, sock, request("GET", "/stuck", ""))
	time.Sleep(20 * time.Millisecond)
	got := make(chan string, 1)
	go func() {
		_, body := do(t, sock, "GET", request("GET", "/next", ""))
		got <- body
	}()
	select {
	case body := <-got:
		if body != "next" {
			t.Errorf("next request got %q", body)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the next request waited behind a harakiri'd handler")
	}
}

// startServerNoWait is startServer for handlers that never return: the
// shutdown at the end is bounded and its error ignored.
func startServerNoWait(t *testing.T, s *Server) string {
	t.Helper()
	s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	path := filepath.Join(t.TempDir(), "app.sock")
	l, err := Listen("unix:"+path, 0o660)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		s.Shutdown(ctx)
	})
	return path
}

// Issue 15 item 10: an app's header value with NUL, CR or LF is dropped
// and logged, never sent.
func TestHeaderValueWithNULIsDropped(t *testing.T) {
	var logs syncBuffer
	sock := startServer(t, &Server{Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header()["X-Nul"] = []string{"a\x00b"}
			w.Header()["X-Crlf"] = []string{"a\r\nInjected: yes"}
			w.Header().Set("X-Fine", "ok")
			io.WriteString(w, "body")
		})})
	out := rawExchange(t, sock, request("GET", "/", ""))
	for _, bad := range []string{"\x00", "X-Nul", "Injected", "X-Crlf"} {
		if strings.Contains(out, bad) {
			t.Errorf("response carries %q:\n%q", bad, out)
		}
	}
	if !strings.Contains(out, "X-Fine: ok") || !strings.HasSuffix(out, "body") {
		t.Errorf("the rest of the response is missing:\n%q", out)
	}
	if l := logs.String(); !strings.Contains(l, "X-Nul") || !strings.Contains(l, "X-Crlf") {
		t.Errorf("dropped headers not logged:\n%s", l)
	}
}

// Contract 2: a request the edge stamped longer ago than queue_timeout is
// answered 503 with Retry-After, without reaching the handler; a fresh one
// is served.
func TestQueueTimeoutAnswers503(t *testing.T) {
	var called atomic.Int32
	sock := startServer(t, &Server{QueueTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called.Add(1)
		io.WriteString(w, "served")
	})})
	stamped := func(start time.Time) []byte {
		var e uwsgi.Encoder
		e.Reset(nil, 0, 0)
		e.Add("REQUEST_METHOD", "GET")
		e.Add("REQUEST_URI", "/")
		e.Add("PATH_INFO", "/")
		e.Add("SERVER_PROTOCOL", "HTTP/1.1")
		e.Add("HTTP_HOST", "test")
		e.Add("STACK_REQUEST_START", strconv.FormatInt(start.UnixMicro(), 10))
		b, _ := e.Bytes(0)
		return b
	}
	resp, _ := do(t, sock, "GET", stamped(time.Now().Add(-2*time.Second)))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("stale request: %d, Retry-After %q; want 503 with Retry-After: 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if called.Load() != 0 {
		t.Error("the handler ran for a request past queue_timeout")
	}
	resp, body := do(t, sock, "GET", stamped(time.Now()))
	if resp.StatusCode != 200 || body != "served" {
		t.Errorf("fresh request: %d %q", resp.StatusCode, body)
	}
	resp, body = do(t, sock, "GET", request("GET", "/", "")) // no stamp: the accept time
	if resp.StatusCode != 200 || body != "served" {
		t.Errorf("unstamped request: %d %q", resp.StatusCode, body)
	}
}
