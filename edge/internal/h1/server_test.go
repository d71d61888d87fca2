package h1

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// serve runs s (with h) on a loopback listener until the test ends.
func serve(t testing.TB, s *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Serve(l); close(done) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			s.Close()
		}
		<-done
	})
	return l.Addr().String()
}

// exchange sends raw and reads until the server closes (or 3 s).
func exchange(t testing.TB, addr, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(c, raw)
	b, _ := io.ReadAll(c)
	return string(b)
}

func echo(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(400)
		fmt.Fprintf(w, "body error: %v", err)
		return
	}
	fmt.Fprintf(w, "%s %s %s body=%q", r.Method, r.URL.Path, r.Host, b)
}

func TestChunkedBodies(t *testing.T) {
	addr := serve(t, &Server{Handler: http.HandlerFunc(echo)})
	for _, tc := range []struct{ name, body, want string }{
		{"fine", "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: x\r\n\r\n", `body="abcde"`},
		{"upper hex", "A\r\n0123456789\r\n0\r\n\r\n", `body="0123456789"`},
		{"size overflow", "10000000000000000\r\nx\r\n0\r\n\r\n", "body error"},
		{"huge extension", "3;" + strings.Repeat("e", 8000) + "\r\nabc\r\n0\r\n\r\n", "body error"},
		{"no CRLF after data", "3\r\nabcX\r\n0\r\n\r\n", "body error"},
		{"negative size", "-3\r\nabc\r\n0\r\n\r\n", "body error"},
		{"LF only", "3\nabc\n0\n\n", "body error"},
		{"space in size", "3 3\r\nabc\r\n0\r\n\r\n", "body error"},
		{"0x prefix", "0x3\r\nabc\r\n0\r\n\r\n", "body error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := exchange(t, addr, "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"+tc.body)
			if !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// Pipelined requests are answered in order, each with its own body; a
// smuggling attempt (CL+TE) is served as one request with its Problem and
// ends the connection, so the hidden request is never read.
func TestPipeliningAndSmuggling(t *testing.T) {
	var seen atomic.Int64
	addr := serve(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		if p := ProblemOf(r.Context()); p != ProblemNone {
			w.Header().Set("Connection", "close")
			w.WriteHeader(400)
			return
		}
		echo(w, r)
	})})
	got := exchange(t, addr, "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyzPOST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nq\r\n0\r\n\r\nGET /4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	for _, want := range []string{`GET /1 a body=""`, `POST /2 a body="xyz"`, `POST /3 a body="q"`, `GET /4 a body=""`} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in %q", want, got)
		}
	}
	seen.Store(0)
	got = exchange(t, addr, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 30\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n")
	if !strings.HasPrefix(got, "HTTP/1.1 400 ") || strings.Contains(got, "smuggled") || seen.Load() != 1 {
		t.Errorf("CL+TE: %q, %d requests served", got, seen.Load())
	}
}

func TestResponseFraming(t *testing.T) {
	big := strings.Repeat("b", 10000)
	addr := serve(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/small":
			io.WriteString(w, "hello")
		case "/big":
			io.WriteString(w, big)
		case "/flush":
			io.WriteString(w, "a")
			w.(http.Flusher).Flush()
			io.WriteString(w, "b")
		case "/204":
			w.WriteHeader(204)
		case "/declared":
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "short")
		case "/split":
			w.Header().Set("X-Evil", "a\r\nSet-Cookie: x=1")
		}
	})})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	get := func(method, path, proto string) *http.Response {
		t.Helper()
		fmt.Fprintf(c, "%s %s %s\r\nHost: a\r\nConnection: keep-alive\r\n\r\n", method, path, proto)
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(strings.NewReader(string(b)))
		return resp
	}
	if r := get("GET", "/small", "HTTP/1.1"); r.ContentLength != 5 || r.Header.Get("Date") == "" {
		t.Errorf("small: length %d, header %v", r.ContentLength, r.Header)
	}
	if r := get("GET", "/big", "HTTP/1.1"); len(r.TransferEncoding) != 1 || r.ContentLength != -1 {
		t.Errorf("big: %v %d", r.TransferEncoding, r.ContentLength)
	}
	if r := get("GET", "/flush", "HTTP/1.1"); len(r.TransferEncoding) != 1 {
		t.Errorf("flush: %v", r.TransferEncoding)
	}
	if r := get("HEAD", "/small", "HTTP/1.1"); r.ContentLength != 5 {
		t.Errorf("HEAD: length %d", r.ContentLength)
	}
	if r := get("GET", "/204", "HTTP/1.1"); r.StatusCode != 204 || r.Header.Get("Content-Length") != "" {
		t.Errorf("204: %v", r.Header)
	}
	if r := get("GET", "/split", "HTTP/1.1"); r.Header.Get("Set-Cookie") != "" {
		t.Errorf("response splitting: %v", r.Header)
	}
	if r := get("GET", "/small", "HTTP/1.0"); r.Header.Get("Connection") != "keep-alive" {
		t.Errorf("1.0 keep-alive: %v", r.Header)
	}
	// Short of its declared length: the connection ends.
	fmt.Fprintf(c, "GET /declared HTTP/1.1\r\nHost: a\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	b, _ := io.ReadAll(br)
	if !strings.HasSuffix(string(b), "short") {
		t.Errorf("declared: %q", b)
	}
}

// "Expect: 100-continue" is answered on the first body read only; an
// answer without reading the body closes the connection.
func TestExpectContinue(t *testing.T) {
	addr := serve(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/read" {
			echo(w, r)
			return
		}
		w.WriteHeader(413)
	})})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	br := bufio.NewReader(c)
	io.WriteString(c, "POST /read HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
	line, _ := br.ReadString('\n')
	if line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("got %q, want 100 Continue", line)
	}
	br.ReadString('\n')
	io.WriteString(c, "ok")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	io.ReadAll(resp.Body)
	io.WriteString(c, "POST /no HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
	b, _ := io.ReadAll(br)
	if !strings.HasPrefix(string(b), "HTTP/1.1 413 ") || strings.Contains(string(b), "100 Continue") || !strings.Contains(string(b), "Connection: close") {
		t.Errorf("early answer: %q", b)
	}
	if got := exchange(t, addr, "POST / HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\nx"); !strings.HasPrefix(got, "HTTP/1.1 417 ") {
		t.Errorf("unknown Expect: %q", got)
	}
}

// A small unread body is drained and the connection kept; a large one
// closes it.
func TestUnreadBody(t *testing.T) {
	addr := serve(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "x") })})
	got := exchange(t, addr, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nabcdeGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	if strings.Count(got, "HTTP/1.1 200 ") != 2 {
		t.Errorf("small body: %q", got)
	}
	c, _ := net.Dial("tcp", addr)
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n", 10<<20)
	b, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(b), "HTTP/1.1 200 ") || !strings.Contains(string(b), "Connection: close") {
		t.Errorf("large body: %q", b)
	}
}

// A slow head is cut at ReadHeaderTimeout; an idle connection at
// IdleTimeout.
func TestSlowloris(t *testing.T) {
	addr := serve(t, &Server{Handler: http.HandlerFunc(echo), ReadHeaderTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond})
	c, _ := net.Dial("tcp", addr)
	defer c.Close()
	start := time.Now()
	for i := 0; i < 20; i++ {
		if _, err := io.WriteString(c, "G"); err != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || time.Since(start) > 2500*time.Millisecond {
		t.Errorf("slow head not cut: %v after %v", err, time.Since(start))
	}
}

// A client that leaves while its request is served cancels the request's
// context (for a handler that waits on it: Done starts the watch); the
// context also ends when the handler returns.
func TestClientGoneCancelsContext(t *testing.T) {
	gone := make(chan struct{})
	var ctx context.Context
	addr := serve(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx = r.Context()
		select {
		case <-r.Context().Done():
			close(gone)
		case <-time.After(3 * time.Second):
		}
	})})
	c, _ := net.Dial("tcp", addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(100 * time.Millisecond)
	c.Close()
	select {
	case <-gone:
	case <-time.After(2 * time.Second):
		t.Fatal("the context was not cancelled when the client left")
	}
	_ = ctx
	if la, ok := ctx.Value(http.LocalAddrContextKey).(net.Addr); !ok || la.String() != addr {
		t.Errorf("LocalAddrContextKey: %v", la)
	}
}

func TestHijack(t *testing.T) {
	addr := serve(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Upgrade", "x")
		w.WriteHeader(101)
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		line, _ := brw.ReadString('\n')
		io.WriteString(conn, "echo "+line)
	})})
	got := exchange(t, addr, "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\nearly\n")
	if !strings.HasPrefix(got, "HTTP/1.1 101 ") || !strings.HasSuffix(got, "echo early\n") {
		t.Errorf("got %q", got)
	}
}

// A file goes out through the connection's ReadFrom (sendfile).
func TestReadFromFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte(strings.Repeat("f", 300<<10)), 0o644)
	addr := serve(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, p)
	})})
	got := exchange(t, addr, "GET /f HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	if !strings.Contains(got, "Content-Length: 307200\r\n") || !strings.HasSuffix(got, "\r\n\r\n"+strings.Repeat("f", 300<<10)) {
		t.Errorf("got %d bytes: %.200q", len(got), got)
	}
}

// Shutdown closes idle connections at once and waits for active ones.
func TestShutdown(t *testing.T) {
	release := make(chan struct{})
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, "done")
	})}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	served := make(chan error)
	go func() { served <- s.Serve(l) }()
	idle, _ := net.Dial("tcp", l.Addr().String())
	defer idle.Close()
	io.WriteString(idle, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	http.ReadResponse(bufio.NewReader(idle), nil)
	busy, _ := net.Dial("tcp", l.Addr().String())
	defer busy.Close()
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(100 * time.Millisecond)
	shut := make(chan error)
	go func() { shut <- s.Shutdown(context.Background()) }()
	idle.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("idle connection: %v, want EOF", err)
	}
	select {
	case <-shut:
		t.Fatal("Shutdown returned with a request in flight")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	busy.SetReadDeadline(time.Now().Add(2 * time.Second))
	b, _ := io.ReadAll(busy)
	if !strings.HasSuffix(string(b), "done") || !strings.Contains(string(b), "Connection: close") {
		t.Errorf("in flight: %q", b)
	}
	if err := <-shut; err != nil {
		t.Error(err)
	}
	if err := <-served; err != ErrServerClosed {
		t.Errorf("Serve: %v", err)
	}
}

func TestRefusedHook(t *testing.T) {
	got := make(chan string, 1)
	addr := serve(t, &Server{Handler: http.HandlerFunc(echo), MaxHeaderBytes: 1000, Limits: func() (int, int) { return 500, 125 },
		Refused: func(c net.Conn, line string, status int, n int64) { got <- fmt.Sprint(status, " ", line[:10]) }})
	resp := exchange(t, addr, "GET /"+strings.Repeat("u", 2000)+" HTTP/1.1\r\nHost: a\r\n\r\n")
	if !strings.HasPrefix(resp, "HTTP/1.1 414 ") {
		t.Errorf("got %q", resp)
	}
	if s := <-got; s != "414 GET /uuuuu" {
		t.Errorf("Refused told %q", s)
	}
}

// Bytes the read-ahead took while the handler ran reach the hijacker, in
// the reader's buffer (where the edge's WebSocket proxy looks for them).
func TestHijackGetsReadAheadBytes(t *testing.T) {
	addr := serve(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Context().Done()                 // as a proxy's upstream request does: the client is watched
		time.Sleep(200 * time.Millisecond) // the client's next bytes arrive meanwhile
		w.WriteHeader(101)
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		if n := brw.Reader.Buffered(); n != len("late\n") {
			t.Errorf("%d bytes buffered, want 5", n)
		}
		line, _ := brw.ReadString('\n')
		io.WriteString(conn, "echo "+line)
	})})
	c, _ := net.Dial("tcp", addr)
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n")
	time.Sleep(50 * time.Millisecond)
	io.WriteString(c, "late\n")
	b, _ := io.ReadAll(c)
	if !strings.HasSuffix(string(b), "echo late\n") {
		t.Errorf("got %q", b)
	}
}

// A handler that never waits on its context costs no read-ahead: the next
// request is read by the connection's goroutine; context.WithCancel on
// the request's context starts the watch through AfterFunc.
func TestWatchOnlyWhenAsked(t *testing.T) {
	gone := make(chan struct{})
	addr := serve(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/child" {
			ctx, cancel := context.WithCancel(r.Context())
			defer cancel()
			select {
			case <-ctx.Done():
				close(gone)
			case <-time.After(3 * time.Second):
			}
			return
		}
		if x := r.Context().(*reqCtx); x.watching() {
			t.Error("watched without being asked")
		}
		io.WriteString(w, "ok")
	})})
	got := exchange(t, addr, "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	if strings.Count(got, "200 OK") != 2 {
		t.Errorf("got %q", got)
	}
	c, _ := net.Dial("tcp", addr)
	io.WriteString(c, "GET /child HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(100 * time.Millisecond)
	c.Close()
	select {
	case <-gone:
	case <-time.After(2 * time.Second):
		t.Fatal("a child context was not cancelled when the client left")
	}
}
