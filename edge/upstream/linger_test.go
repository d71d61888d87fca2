package upstream

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/uwsgi"
)

// lingerTransport is a transport without keep-alive (as in front of
// uWSGI) whose wait for a close-delimited response's end is long, so that
// what it waits for, and what it does not, shows in the outcome rather
// than in timings.
func lingerTransport(sock string, linger time.Duration) *UwsgiTransport {
	return &UwsgiTransport{Network: "unix", Address: sock, ConnectTimeout: time.Second, ReadTimeout: 30 * time.Second,
		SendTimeout: 5 * time.Second, BufferSize: uwsgi.DefaultBufferSize, linger: linger}
}

// A body that ends at the close gets its length when the close comes soon
// after the head, even after a pause: one write to the client rather than
// a chunked stream.
func TestCloseSoonAfterTheHeadIsWaitedFor(t *testing.T) {
	sock, _ := connServer(t, func(c net.Conn) {
		if readPacket(c) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<h1>Hello")
			time.Sleep(50 * time.Millisecond)
			io.WriteString(c, ", web!</h1>")
		}
	})
	code, body, h := roundTrip(t, lingerTransport(sock, 10*time.Second), "GET", "/", "")
	if code != 200 || body != "<h1>Hello, web!</h1>" || h.Get("Content-Length") != "20" {
		t.Errorf("got %d %q, Content-Length %q; want the whole body, sized 20", code, body, h.Get("Content-Length"))
	}
}

// What is not waited for: a stream the app asked not to buffer, an event
// stream, and a body larger than the read buffer. Each response reaches
// the caller while the server still holds its connection open (it closes
// only when the caller has it, or after 10 s), and without a length.
func TestStreamsAreNotWaitedFor(t *testing.T) {
	for name, head := range map[string]string{
		"X-Accel-Buffering: no": "HTTP/1.1 200 OK\r\nX-Accel-Buffering: no\r\n\r\nfirst",
		"event stream":          "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n\r\ndata: 1\n\n",
		"large body":            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + strings.Repeat("x", 8<<10),
	} {
		t.Run(name, func(t *testing.T) {
			got := make(chan struct{})
			sock, _ := connServer(t, func(c net.Conn) {
				if readPacket(c) {
					io.WriteString(c, head)
					select {
					case <-got:
					case <-time.After(10 * time.Second):
					}
				}
			})
			req, _ := http.NewRequest("GET", "http://app/", nil)
			resp, err := lingerTransport(sock, time.Minute).RoundTrip(req)
			close(got)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := head[strings.Index(head, "\r\n\r\n")+4:]
			if err != nil || string(b) != want || resp.ContentLength != -1 {
				t.Errorf("got %q (%v), length %d; want the stream, of unknown length", b, err, resp.ContentLength)
			}
		})
	}
}

// A Unix server that closes with request bytes unread resets the
// connection, after every byte it wrote: its close-delimited body is
// whole, and gets its length, as at a plain close. The request, which
// the app has run, is sent once.
func TestUnixResetAfterTheBodyEndsIt(t *testing.T) {
	sock, accepted := connServer(t, func(c net.Conn) {
		var b [4]byte // the packet's header only: the vars stay unread
		if _, err := io.ReadFull(c, b[:]); err == nil {
			io.WriteString(c, helloResponse)
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
	sock, _ = connServer(t, func(c net.Conn) {
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
		sock, _ := connServer(t, func(c net.Conn) {
			if readPacket(c) {
				time.Sleep(pause)
				io.WriteString(c, answer)
			}
		})
		return sock
	}
	hello := serve(0, helloResponse)
	slow := serve(300*time.Millisecond, helloResponse)
	sized := serve(0, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	reset, _ := connServer(t, func(c net.Conn) {
		var b [4]byte
		if _, err := io.ReadFull(c, b[:]); err == nil {
			io.WriteString(c, helloResponse)
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
