package transport

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stack-web/stack/edge/upstream/internal/unixconn"
	"github.com/stack-web/stack/uwsgi"
	"github.com/stack-web/stack/uwsgi/uwsgitest"
)

// fakeUwsgi is a uwsgi server that counts its connections and answers each
// request with its path; it offers keep-alive when offer is set and then
// serves up to perConn requests on a connection before closing it, as an
// app server that idles a kept connection out does.
type fakeUwsgi struct {
	sock     string
	offer    bool
	perConn  int
	accepted *atomic.Int64
	closed   atomic.Int64
	requests atomic.Int64
	delay    time.Duration // before each answer: the edge's read waits in the poller
}

func startFakeUwsgi(t *testing.T, offer bool, perConn int) *fakeUwsgi {
	f := &fakeUwsgi{offer: offer, perConn: perConn}
	f.sock, f.accepted = uwsgitest.Serve(t, func(c net.Conn) {
		defer f.closed.Add(1) // once closed (Serve closes it again: a no-op)
		defer c.Close()
		f.serve(c)
	})
	return f
}

// active is how many connections the server holds open.
func (f *fakeUwsgi) active() int64 { return f.accepted.Load() - f.closed.Load() }

func (f *fakeUwsgi) serve(c net.Conn) {
	br := bufio.NewReader(c)
	for n := 1; ; n++ {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		p, err := uwsgi.ReadPacket(br, uwsgi.MaxBufferSize, nil)
		if err != nil {
			return
		}
		f.requests.Add(1)
		keep := f.offer && p.Vars.Value(uwsgi.VarKeepAlive) == "1"
		cl, _ := p.ContentLength()
		io.CopyN(io.Discard, br, cl)
		body := p.Vars.Value("PATH_INFO")
		head := "HTTP/1.1 200 OK\r\nContent-Length: " + fmt.Sprint(len(body)) + "\r\n"
		if strings.HasPrefix(body, "/chunked") {
			head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
			body = fmt.Sprintf("%x\r\n%s\r\n0\r\nX-Trailer: t\r\n\r\n", len(body), body)
		}
		if keep {
			head += uwsgi.KeepAliveHeader + ": 1\r\n"
		}
		time.Sleep(f.delay)
		io.WriteString(c, head+"\r\n"+body)
		if !keep || n >= f.perConn {
			return
		}
	}
}

func roundTrip(t *testing.T, rt http.RoundTripper, method, path string, body string) (int, string, http.Header) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, "http://app"+path, r)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, path, err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func keptTransport(sock string) *UwsgiTransport {
	return &UwsgiTransport{Network: "unix", Address: sock, ConnectTimeout: time.Second, ReadTimeout: 5 * time.Second,
		SendTimeout: 5 * time.Second, BufferSize: uwsgi.DefaultBufferSize, KeepAlive: 4, KeepAliveTimeout: time.Minute}
}

func TestKeptConnectionsAreReused(t *testing.T) {
	f := startFakeUwsgi(t, true, 1000)
	rt := keptTransport(f.sock)
	defer rt.CloseIdleConnections()
	for i, path := range []string{"/a", "/chunked", "/b", "/chunked2", "/c"} {
		code, body, h := roundTrip(t, rt, "GET", path, "")
		if code != 200 || body != path {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
		if v := h.Get(uwsgi.KeepAliveHeader); v != "" {
			t.Errorf("the %s header reached the client: %q", uwsgi.KeepAliveHeader, v)
		}
	}
	if n := f.accepted.Load(); n != 1 {
		t.Errorf("5 requests in turn took %d connections, want 1", n)
	}
}

// A server that does not offer keep-alive (a real uWSGI) gets a connection
// per request, as from nginx.
func TestConnectionsAreNotKeptUnlessOffered(t *testing.T) {
	f := startFakeUwsgi(t, false, 1)
	rt := keptTransport(f.sock)
	defer rt.CloseIdleConnections()
	for range 3 {
		roundTrip(t, rt, "GET", "/a", "")
	}
	if n := f.accepted.Load(); n != 3 {
		t.Errorf("3 requests took %d connections, want 3", n)
	}
}

// A kept connection the server closed while it was idle is found closed on
// the next request, which is sent again on a new connection: the client
// never sees the error.
func TestRequestOnAConnectionTheServerClosedIsSentAgain(t *testing.T) {
	f := startFakeUwsgi(t, true, 1) // offers, then closes after each response
	rt := keptTransport(f.sock)
	defer rt.CloseIdleConnections()
	for i := range 5 {
		time.Sleep(10 * time.Millisecond) // the server's close arrives
		if code, body, _ := roundTrip(t, rt, "GET", "/a", ""); code != 200 || body != "/a" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	if n, r := f.accepted.Load(), f.requests.Load(); n != 5 || r != 5 {
		t.Errorf("%d connections and %d requests served, want 5 and 5", n, r)
	}
}

// A kept connection that has waited for an answer (under the poller)
// sends its next request in the read of the answer (connReader.request,
// unixconn's WriteRead): the answers still come, in order, on the one
// connection; and when the server has closed it meanwhile, the write
// fails inside that read and the request goes again on a new connection.
func TestKeptPolledConnectionSendsInItsRead(t *testing.T) {
	for _, perConn := range []int{1000, 1} {
		f := startFakeUwsgi(t, true, perConn)
		f.delay = 5 * time.Millisecond
		rt := keptTransport(f.sock)
		for i, path := range []string{"/a", "/b", "/chunked", "/c", "/d"} {
			time.Sleep(10 * time.Millisecond) // a server's close arrives
			if code, body, _ := roundTrip(t, rt, "GET", path, ""); code != 200 || body != path {
				t.Fatalf("perConn %d, request %d: %d %q", perConn, i, code, body)
			}
		}
		want := int64(1)
		if perConn == 1 {
			want = 5
		}
		if n, r := f.accepted.Load(), f.requests.Load(); n != want || r != 5 {
			t.Errorf("perConn %d: %d connections and %d requests served, want %d and 5", perConn, n, r, want)
		}
		rt.CloseIdleConnections()
	}
}

// A request that must not be sent twice never goes on a kept connection,
// though it may leave its own connection kept for the next GET.
func TestPostNeverTakesAKeptConnection(t *testing.T) {
	f := startFakeUwsgi(t, true, 1000)
	rt := keptTransport(f.sock)
	defer rt.CloseIdleConnections()
	roundTrip(t, rt, "GET", "/a", "") // leaves one kept
	roundTrip(t, rt, "POST", "/vote", "choice=1")
	if n := f.accepted.Load(); n != 2 {
		t.Errorf("after a GET and a POST: %d connections, want 2 (the POST on a new one)", n)
	}
	roundTrip(t, rt, "GET", "/b", "")
	roundTrip(t, rt, "GET", "/c", "")
	if n := f.accepted.Load(); n != 2 {
		t.Errorf("GETs after them opened connections: %d in all, want 2", n)
	}
}

// The pool keeps at most KeepAlive idle connections, drops those idle past
// KeepAliveTimeout, and closes everything on CloseIdleConnections.
func TestIdlePoolBounds(t *testing.T) {
	f := startFakeUwsgi(t, true, 1000)
	rt := keptTransport(f.sock)
	rt.KeepAlive = 2
	loadAtOnce(t, rt, 5)
	rt.idle.mu.Lock()
	kept := len(rt.idle.conns)
	rt.idle.mu.Unlock()
	if kept != 2 {
		t.Errorf("%d connections kept, want keepalive's 2", kept)
	}
	rt.KeepAliveTimeout = time.Nanosecond
	if c := rt.idle.get(rt.KeepAliveTimeout); c != nil {
		t.Error("a connection idle past keepalive_timeout was handed out")
	}
	rt.CloseIdleConnections()
	roundTrip(t, rt, "GET", "/after-close", "")
	rt.idle.mu.Lock()
	kept = len(rt.idle.conns)
	rt.idle.mu.Unlock()
	if kept != 0 {
		t.Errorf("a retired transport kept %d connections", kept)
	}
}

// loadAtOnce makes n requests whose responses are all open at once (n
// connections), then closes them, leaving the connections to the pool.
func loadAtOnce(t *testing.T, rt http.RoundTripper, n int) {
	t.Helper()
	bodies := make([]io.ReadCloser, n)
	for i := range bodies {
		req, _ := http.NewRequest("GET", "http://app/x", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		bodies[i] = resp.Body
	}
	for _, b := range bodies {
		b.Close()
	}
}

// closingUwsgi answers every request with a body of no stated length and
// closes the connection, as uWSGI does for a WSGI app that sets no
// Content-Length; with pause, the body comes in two parts that far apart.
func closingUwsgi(t *testing.T, pause time.Duration) string {
	sock, _ := uwsgitest.Serve(t, func(c net.Conn) {
		if uwsgitest.ReadPacket(c) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<h1>Hello")
			time.Sleep(pause)
			io.WriteString(c, ", web!</h1>")
		}
	})
	return sock
}

// A body that ends at the close, whole by the time its head is read, gets
// its length (one write to the client instead of a flushed chunked stream);
// one still coming is streamed as before.
func TestBodyEndingAtCloseGetsItsLength(t *testing.T) {
	rt := keptTransport(closingUwsgi(t, 0))
	sized := 0
	for range 20 {
		code, body, h := roundTrip(t, rt, "GET", "/", "")
		if code != 200 || body != "<h1>Hello, web!</h1>" {
			t.Fatalf("%d %q", code, body)
		}
		if cl := h.Get("Content-Length"); cl != "" {
			if cl != "20" {
				t.Fatalf("Content-Length %s for a 20-byte body", cl)
			}
			sized++
		}
	}
	if sized == 0 {
		t.Error("no response of 20 got its Content-Length though the server had closed")
	}
	rt = keptTransport(closingUwsgi(t, 200*time.Millisecond))
	code, body, h := roundTrip(t, rt, "GET", "/", "")
	if code != 200 || body != "<h1>Hello, web!</h1>" || h.Get("Content-Length") != "" {
		t.Errorf("a body still coming: %d %q, Content-Length %q", code, body, h.Get("Content-Length"))
	}
	t.Logf("%d of 20 responses sized", sized)
}

// After a load, the kept connections beyond the newest few are closed once
// they have idled shrinkAfter, so the app server's workers free each one's
// goroutine and buffers; the newest few stay for the next requests, and a
// connection in use is never closed.
func TestIdlePoolShrinksAfterALoad(t *testing.T) {
	f := startFakeUwsgi(t, true, 1000)
	rt := keptTransport(f.sock)
	rt.KeepAlive = 16
	rt.idle.after, rt.idle.warm = 100*time.Millisecond, 2
	defer rt.CloseIdleConnections()
	kept := func() int {
		rt.idle.mu.Lock()
		defer rt.idle.mu.Unlock()
		return len(rt.idle.conns)
	}
	loadAtOnce(t, rt, 8)
	if n := kept(); n != 8 {
		t.Fatalf("%d connections kept right after the load, want 8", n)
	}
	// A light load keeps using the newest: it never waits for a dial.
	deadline := time.Now().Add(5 * time.Second)
	for kept() > 2 && time.Now().Before(deadline) {
		roundTrip(t, rt, "GET", "/light", "")
		time.Sleep(10 * time.Millisecond)
	}
	if n := kept(); n != 2 {
		t.Fatalf("%d connections kept %v after the load, want the 2 warm ones", n, 5*time.Second)
	}
	if n := f.accepted.Load(); n != 8 {
		t.Errorf("%d connections accepted in all, want the load's 8 (the light load reused the warm ones)", n)
	}
	// The server sees the others closed: they are not just forgotten.
	for f.active() > 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := f.active(); n != 2 {
		t.Errorf("the server still holds %d connections, want 2", n)
	}
	rt.idle.mu.Lock()
	armed := rt.idle.armed
	rt.idle.mu.Unlock()
	if armed {
		t.Error("the shrink timer is still armed with only the warm connections kept")
	}
}

// The watch's deadline on a kept connection may be as little as half of
// watchDelay away when the request's read starts (arm keeps one already
// set): if it has passed before the request went out, the request is
// still sent, under the deadline proper, and its answer read.
func TestKeptRequestSentAfterTheWatchDeadline(t *testing.T) {
	f := startFakeUwsgi(t, true, 1000)
	f.delay = 5 * time.Millisecond
	rt := keptTransport(f.sock)
	defer rt.CloseIdleConnections()
	roundTrip(t, rt, "GET", "/a", "") // leaves a kept connection, polled: its answer was waited for
	conn := rt.idle.get(time.Minute)
	uc, ok := conn.(*unixconn.Conn)
	if !ok || !uc.Polled() {
		t.Fatalf("the kept connection is %T, polled %v; want a polled *unixconn.Conn", conn, ok && uc.Polled())
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(-time.Millisecond)) // the watch's, passed
	pkt := withKeepAlive(uwsgitest.Request("GET", "/b", ""))
	r := connReader{conn: conn, ctx: context.Background(), short: true, until: time.Now().Add(5 * time.Second), request: pkt}
	defer r.unwatch()
	buf := make([]byte, 512)
	n, err := r.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200 OK") || !strings.HasSuffix(string(buf[:n]), "/b") {
		t.Fatalf("Read = %q, %v; want the answer to /b", buf[:n], err)
	}
}

// withKeepAlive adds the vars of a request that offers to keep the
// connection (uwsgi.VarKeepAlive, chunked framing) to a packet.
func withKeepAlive(pkt []byte) []byte {
	p, err := uwsgi.ReadPacket(bufio.NewReader(strings.NewReader(string(pkt))), uwsgi.MaxBufferSize, nil)
	if err != nil {
		panic(err)
	}
	var e uwsgi.Encoder
	e.Reset(nil, 0, 0)
	for _, v := range p.Vars {
		e.Add(v.Key, v.Value)
	}
	e.Add(uwsgi.VarKeepAlive, "1")
	e.Add(VarResponseFraming, "chunked")
	b, _ := e.Bytes(0)
	return b
}
