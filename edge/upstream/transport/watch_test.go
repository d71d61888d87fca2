package transport

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stack-web/stack/uwsgi"
	"github.com/stack-web/stack/uwsgi/uwsgitest"
)

// countingCtx counts the calls that watch it: Done, and AfterFunc (the
// context package calls both on a parent it hooks a child or an AfterFunc
// onto). Under the edge's h1 front the first of them starts a read-ahead
// goroutine on the client's connection.
type countingCtx struct {
	context.Context
	watched atomic.Int64
}

func (c *countingCtx) Done() <-chan struct{} {
	c.watched.Add(1)
	return c.Context.Done()
}

// scriptedUwsgi runs serve on each connection after reading its request.
func scriptedUwsgi(t *testing.T, serve func(c net.Conn)) string {
	sock, _ := uwsgitest.Serve(t, func(c net.Conn) {
		if _, err := uwsgi.ReadPacket(bufio.NewReader(c), uwsgi.MaxBufferSize, nil); err != nil {
			return
		}
		serve(c)
	})
	return sock
}

// An answer that comes at once never watches the client: no AfterFunc on
// the request's context, no Done.
func TestFastAnswerDoesNotWatchClient(t *testing.T) {
	f := startFakeUwsgi(t, true, 1000)
	rt := keptTransport(f.sock)
	defer rt.CloseIdleConnections()
	ctx := &countingCtx{Context: t.Context()}
	for _, path := range []string{"/a", "/chunked", "/b"} {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://app"+path, nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(b) != path {
			t.Fatalf("%s: %d %q %v", path, resp.StatusCode, b, err)
		}
	}
	if n := ctx.watched.Load(); n != 0 {
		t.Errorf("the client was watched %d times for answers that came at once", n)
	}
	if n := f.accepted.Load(); n != 1 {
		t.Errorf("3 requests took %d connections, want 1 (kept)", n)
	}
}

// A server slower than watchDelay, in the head or the body, or sending
// its head in pieces, is waited for up to read_timeout: the watch's short
// deadline is never taken for the read timeout.
func TestSlowAnswerIsWaitedFor(t *testing.T) {
	pause := 2 * watchDelay
	sock := scriptedUwsgi(t, func(c net.Conn) {
		time.Sleep(pause)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-")
		time.Sleep(pause)
		io.WriteString(c, "Length: 10\r\n\r\nhello")
		time.Sleep(pause)
		io.WriteString(c, "world")
	})
	rt := keptTransport(sock)
	ctx := &countingCtx{Context: t.Context()}
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://app/", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != "helloworld" {
		t.Fatalf("body %q, %v", b, err)
	}
	if ctx.watched.Load() == 0 {
		t.Error("a slow answer did not watch the client")
	}
}

// A client that goes away while a slow server works cuts the wait, for the
// head and in the middle of the body: the request's context still cuts a
// wait that started before the watch did.
func TestClientGoneCutsSlowAnswer(t *testing.T) {
	for _, tc := range []struct{ name, first, want string }{
		{"head", "", "client closed the connection before"},
		{"body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", "client closed the connection while reading response body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			sock := scriptedUwsgi(t, func(c net.Conn) {
				io.WriteString(c, tc.first)
				select { // then answers only at the end of the test
				case <-release:
				case <-time.After(10 * time.Second):
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nlater")
			})
			t.Cleanup(func() { close(release) }) // before the server's cleanup waits for it
			rt := keptTransport(sock)
			rt.ReadTimeout = 10 * time.Second
			ctx, cancel := context.WithCancel(t.Context())
			time.AfterFunc(3*watchDelay, cancel)
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://app/", nil)
			resp, err := rt.RoundTrip(req)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// A kept connection carries no deadline of its last request into the
// next: a request whose body was sent under send_timeout leaves none that
// would fail a later one sent long after (the pool no longer clears
// deadlines as it takes a connection back).
func TestKeptConnectionCarriesNoStaleDeadline(t *testing.T) {
	f := startFakeUwsgi(t, true, 1000)
	rt := keptTransport(f.sock)
	rt.SendTimeout, rt.ReadTimeout = 100*time.Millisecond, 200*time.Millisecond
	defer rt.CloseIdleConnections()
	if code, body, _ := roundTrip(t, rt, "POST", "/post", "a body, sent under a write deadline"); code != 200 || body != "/post" {
		t.Fatalf("POST: %d %q", code, body)
	}
	time.Sleep(300 * time.Millisecond) // past both deadlines
	for _, path := range []string{"/a", "/b"} {
		if code, body, _ := roundTrip(t, rt, "GET", path, ""); code != 200 || body != path {
			t.Fatalf("GET %s on the kept connection: %d %q", path, code, body)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if n := f.accepted.Load(); n != 1 {
		t.Errorf("3 requests took %d connections, want 1 (kept)", n)
	}
}
