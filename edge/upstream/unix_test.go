package upstream

import (
	"context"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stack-web/stack/uwsgi/uwsgitest"
)

// A Unix server that closes with request bytes unread resets the
// connection, after every byte it wrote: its close-delimited body is
// whole, and gets its length, as at a plain close. The request, which
// the app has run, is sent once.
func TestUnixResetAfterTheBodyEndsIt(t *testing.T) {
	sock, accepted := uwsgitest.Serve(t, func(c net.Conn) {
		var b [4]byte // the packet's header only: the vars stay unread
		if _, err := io.ReadFull(c, b[:]); err == nil {
			io.WriteString(c, uwsgitest.Hello)
		}
	})
	code, body, h := exchangeStatus(context.Background(), groupFor(t, sock, 5*time.Second), "/")
	if code != 200 || body != "<h1>Hello, web!</h1>" || h.Get("Content-Length") != "20" {
		t.Errorf("got %d %q, Content-Length %q; want the whole body, sized", code, body, h.Get("Content-Length"))
	}
	if n := accepted.Load(); n != 1 {
		t.Errorf("the request was sent %d times, want once", n)
	}

	// Streamed (the reset comes after the wait for the close).
	sock, _ = uwsgitest.Serve(t, func(c net.Conn) {
		var b [4]byte
		if _, err := io.ReadFull(c, b[:]); err == nil {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Accel-Buffering: no\r\n\r\nfirst")
			time.Sleep(20 * time.Millisecond)
			io.WriteString(c, " second")
		}
	})
	code, body, _ = exchangeStatus(context.Background(), groupFor(t, sock, 5*time.Second), "/")
	if code != 200 || body != "first second" {
		t.Errorf("streamed: got %d %q, want the whole body", code, body)
	}
}

// openFDs counts the process's open files.
func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// Every way an exchange with a Unix server can go leaves no file open: an
// answer read whole or waited for, sized or not, a client that goes
// away, a timeout, a reset, a missing socket, a refused connection, a
// full queue.
func TestUnixExchangesLeakNoFiles(t *testing.T) {
	serve := func(pause time.Duration, answer string) string {
		sock, _ := uwsgitest.Serve(t, func(c net.Conn) {
			if uwsgitest.ReadPacket(c) {
				time.Sleep(pause)
				io.WriteString(c, answer)
			}
		})
		return sock
	}
	hello := serve(0, uwsgitest.Hello)
	slow := serve(300*time.Millisecond, uwsgitest.Hello)
	sized := serve(0, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	reset, _ := uwsgitest.Serve(t, func(c net.Conn) {
		var b [4]byte
		if _, err := io.ReadFull(c, b[:]); err == nil {
			io.WriteString(c, uwsgitest.Hello)
		}
	})
	full, _, _ := fullQueue(t)
	dir := t.TempDir()
	missing := dir + "/missing.sock"

	run := func() {
		ctx := context.Background()
		for _, sock := range []string{hello, sized, reset, full, missing} {
			exchangeStatus(ctx, groupFor(t, sock, 5*time.Second), "/")
		}
		exchangeStatus(ctx, groupFor(t, slow, 100*time.Millisecond), "/") // times out
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)    // the client goes
		exchangeStatus(cctx, groupFor(t, slow, 5*time.Second), "/")
		cancel()
	}
	run() // the first round opens what stays open (the poller's own files)
	before := openFDs(t)
	for range 3 {
		run()
	}
	// The servers close their side as they finish.
	after := openFDs(t)
	for deadline := time.Now().Add(5 * time.Second); after > before && time.Now().Before(deadline); after = openFDs(t) {
		time.Sleep(20 * time.Millisecond)
	}
	if after > before {
		t.Errorf("%d files open after 21 exchanges, %d before", after, before)
	}
}
