package appserver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stack-web/stack/uwsgi"
	"github.com/stack-web/stack/uwsgi/uwsgitest"
)

// keptRequest is a packet as the edge sends it when it offers keep-alive.
func keptRequest(method, uri, body string) []byte {
	return uwsgitest.Request(method, uri, body)
}

// withVars re-encodes raw's packet with extra vars.
func withVars(t *testing.T, raw []byte, kv ...string) []byte {
	t.Helper()
	br := bufio.NewReader(strings.NewReader(string(raw)))
	p, err := uwsgi.ReadPacket(br, uwsgi.MaxBufferSize, nil)
	if err != nil {
		t.Fatal(err)
	}
	var e uwsgi.Encoder
	e.Reset(nil, 0, 0)
	for _, v := range p.Vars {
		e.Add(v.Key, v.Value)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Add(kv[i], kv[i+1])
	}
	b, err := e.Bytes(0)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(br)
	return append(b, body...)
}

func keepVars(t *testing.T, raw []byte) []byte {
	return withVars(t, raw, uwsgi.VarKeepAlive, "1", "STACK_RESPONSE_FRAMING", "chunked")
}

// keptConn is one client connection carrying several requests.
type keptConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialKept(t *testing.T, sock string) *keptConn {
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &keptConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (k *keptConn) do(method string, raw []byte) (*http.Response, string) {
	k.t.Helper()
	if _, err := k.c.Write(raw); err != nil {
		k.t.Fatalf("writing the request: %v", err)
	}
	resp, err := http.ReadResponse(k.br, &http.Request{Method: method})
	if err != nil {
		k.t.Fatalf("reading the response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		k.t.Fatalf("reading the body: %v", err)
	}
	return resp, string(body)
}

// closed reports whether the server closed the connection (no byte more).
func (k *keptConn) closed() bool {
	k.c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := k.br.ReadByte()
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		k.t.Logf("after the response: %v", err)
	}
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

func keepAliveMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "Hello, web!\n") })
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "one\n")
		w.(http.Flusher).Flush()
		io.WriteString(w, "two\n")
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/ignore-body", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ignored\n") })
	mux.HandleFunc("/short", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "12345")
	})
	mux.HandleFunc("/panic-late", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		panic("boom")
	})
	return mux
}

func TestKeepAliveCarriesRequestsInTurn(t *testing.T) {
	sock := startServer(t, &Server{Handler: keepAliveMux(), Harakiri: 5 * time.Second})
	k := dialKept(t, sock)
	steps := []struct {
		method, uri, body string
		status            int
		want              string
	}{
		{"GET", "/hello", "", 200, "Hello, web!\n"},
		{"GET", "/stream", "", 200, "one\ntwo\n"},
		{"HEAD", "/hello", "", 200, ""},
		{"GET", "/empty", "", 204, ""},
		// A body the handler never reads is drained; the next packet is
		// read from after it, never from inside it.
		{"POST", "/ignore-body", string(keptRequest("GET", "/short", "")), 200, "ignored\n"},
		{"GET", "/hello", "", 200, "Hello, web!\n"},
	}
	for i, s := range steps {
		resp, body := k.do(s.method, keepVars(t, keptRequest(s.method, s.uri, s.body)))
		if resp.StatusCode != s.status || body != s.want {
			t.Fatalf("request %d (%s %s): %d %q, want %d %q", i, s.method, s.uri, resp.StatusCode, body, s.status, s.want)
		}
		if resp.Header.Get(uwsgi.KeepAliveHeader) != "1" {
			t.Fatalf("request %d (%s %s): no %s header: %v", i, s.method, s.uri, uwsgi.KeepAliveHeader, resp.Header)
		}
	}
}

func TestKeepAliveOnlyWhenAsked(t *testing.T) {
	sock := startServer(t, &Server{Handler: keepAliveMux()})
	for name, raw := range map[string][]byte{
		"no vars (nginx, uWSGI's peers)": keptRequest("GET", "/hello", ""),
		"keep-alive without framing":     withVars(t, keptRequest("GET", "/hello", ""), uwsgi.VarKeepAlive, "1"),
	} {
		k := dialKept(t, sock)
		resp, body := k.do("GET", raw)
		if resp.StatusCode != 200 || body != "Hello, web!\n" {
			t.Errorf("%s: %d %q", name, resp.StatusCode, body)
		}
		if v := resp.Header.Get(uwsgi.KeepAliveHeader); v != "" {
			t.Errorf("%s: %s: %q offered", name, uwsgi.KeepAliveHeader, v)
		}
		if !k.closed() {
			t.Errorf("%s: the connection stayed open after the response", name)
		}
	}
}

// A response that did not end as its header said must end the connection:
// the next response would otherwise be read as the rest of this one.
func TestKeepAliveClosesAfterAnIncompleteResponse(t *testing.T) {
	sock := startServer(t, &Server{Handler: keepAliveMux()})
	for _, uri := range []string{"/short", "/panic-late"} {
		k := dialKept(t, sock)
		if _, err := k.c.Write(keepVars(t, keptRequest("GET", uri, ""))); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(k.br, &http.Request{Method: "GET"})
		if err != nil {
			t.Fatalf("%s: %v", uri, err)
		}
		if _, err := io.ReadAll(resp.Body); err == nil {
			t.Errorf("%s: the cut body read as complete", uri)
		}
		if !k.closed() {
			t.Errorf("%s: the connection stayed open after a cut response", uri)
		}
	}
}

// A body too large to drain is not skipped on a kept connection: the
// connection closes, so no byte of it is ever read as a packet
// (unbit/uwsgi#2336).
func TestKeepAliveClosesAfterAnUndrainedBody(t *testing.T) {
	sock := startServer(t, &Server{Handler: keepAliveMux()})
	k := dialKept(t, sock)
	body := strings.Repeat("x", maxDrain+1)
	go k.c.Write(keepVars(t, keptRequest("POST", "/ignore-body", body)))
	resp, err := http.ReadResponse(k.br, &http.Request{Method: "POST"})
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	if !k.closed() {
		t.Error("the connection stayed open with an unread body on it")
	}
}

// Shutdown closes idle kept connections at once instead of waiting for them
// to idle out, and lets a request in flight on one finish.
func TestKeepAliveShutdownClosesIdleConnections(t *testing.T) {
	release := make(chan struct{})
	mux := keepAliveMux()
	mux.HandleFunc("/wait", func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "done\n")
	})
	s := &Server{Handler: mux}
	sock := startServer(t, s)
	idle, busy := dialKept(t, sock), dialKept(t, sock)
	idle.do("GET", keepVars(t, keptRequest("GET", "/hello", "")))
	busy.do("GET", keepVars(t, keptRequest("GET", "/hello", "")))
	if _, err := busy.c.Write(keepVars(t, keptRequest("GET", "/wait", ""))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the request reaches the handler

	stopped := make(chan error, 1)
	start := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stopped <- s.Shutdown(ctx)
	}()
	if !idle.closed() {
		t.Error("Shutdown left the idle kept connection open")
	}
	close(release)
	resp, err := http.ReadResponse(busy.br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatalf("the request in flight: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "done\n" || resp.Header.Get(uwsgi.KeepAliveHeader) != "" {
		t.Errorf("the request in flight got %q, keep-alive %q; want done and none offered while stopping", body, resp.Header.Get(uwsgi.KeepAliveHeader))
	}
	if !busy.closed() {
		t.Error("the connection of the request in flight stayed open after Shutdown")
	}
	if err := <-stopped; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Shutdown took %v with an idle kept connection", d)
	}
}

// An answer whose head went out before a shutdown began, offering to keep
// the connection, ends after it: its last bytes, held for the read of a
// next request that will not come (sockconn's HoldWrites), still go out
// whole before the connection closes; on a new connection's first request
// and on a later one alike.
func TestKeepAliveShutdownSendsAHeldAnswer(t *testing.T) {
	for _, later := range []bool{false, true} {
		release := make(chan struct{})
		mux := keepAliveMux()
		mux.HandleFunc("/flush-then-wait", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "one\n")
			w.(http.Flusher).Flush()
			<-release
			io.WriteString(w, "two\n")
		})
		s := &Server{Handler: mux}
		sock := startServer(t, s)
		k := dialKept(t, sock)
		if later {
			k.do("GET", keepVars(t, keptRequest("GET", "/hello", "")))
		}
		if _, err := k.c.Write(keepVars(t, keptRequest("GET", "/flush-then-wait", ""))); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(k.br, &http.Request{Method: "GET"})
		if err != nil {
			t.Fatalf("later %v: the head: %v", later, err)
		}
		stopped := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			stopped <- s.Shutdown(ctx)
		}()
		time.Sleep(50 * time.Millisecond) // Shutdown has begun
		close(release)
		body, err := io.ReadAll(resp.Body)
		if err != nil || string(body) != "one\ntwo\n" {
			t.Errorf("later %v: the answer ended at the shutdown: %q, %v; want one, two and its end", later, body, err)
		}
		if err := <-stopped; err != nil {
			t.Errorf("later %v: Shutdown: %v", later, err)
		}
	}
}
