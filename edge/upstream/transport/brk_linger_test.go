package transport

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/uwsgi/uwsgitest"
)

// A close-delimited body of exactly the read buffer's 4 KiB that ends at
// the close is whole when the wait ends: it gets its length, as any
// smaller one does ("a body past 4 KiB" is not waited for; this one is
// not past it). The server's close follows its write by a moment, which
// the transport may read between: of 20 such answers, some must be sized
// (none was: a full buffer ended the wait as for a stream).
func TestBodyOfExactly4KiBGetsItsLength(t *testing.T) {
	body := strings.Repeat("x", 4096)
	sock, _ := uwsgitest.Serve(t, func(c net.Conn) {
		if uwsgitest.ReadPacket(c) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"+body)
		}
	})
	sized := 0
	for range 20 {
		code, got, h := roundTrip(t, lingerTransport(sock, 10*time.Second), "GET", "/", "")
		if code != 200 || got != body {
			t.Fatalf("got %d, %d bytes; want the whole body", code, len(got))
		}
		switch h.Get("Content-Length") {
		case "4096":
			sized++
		case "":
		default:
			t.Fatalf("Content-Length %q for a body of 4096 bytes", h.Get("Content-Length"))
		}
	}
	t.Logf("%d of 20 answers of 4096 bytes sized", sized)
	if sized == 0 {
		t.Error("no answer of exactly 4 KiB got its length")
	}
}

// A client that goes away while the transport waits for the close after a
// slow answer's head (the watch on the client is on: the head took longer
// than watchDelay) cuts the wait and the body: the read that follows must
// not wait on for the server (until read_timeout, or its close, when the
// body would look whole) because the wait's own deadline overwrote the
// cut.
func TestClientGoneDuringTheWaitForTheCloseCutsTheBody(t *testing.T) {
	release := make(chan struct{})
	sock, _ := uwsgitest.Serve(t, func(c net.Conn) {
		if uwsgitest.ReadPacket(c) {
			time.Sleep(2 * watchDelay)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst")
			select { // a stalled app; closes, ending the body, when released
			case <-release:
			case <-time.After(10 * time.Second):
			}
		}
	})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://app/", nil)
	tr := lingerTransport(sock, 10*time.Second) // the wait is long: the client goes during it
	time.AfterFunc(4*watchDelay, cancel)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return // cut at once: fine
	}
	defer resp.Body.Close()
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(resp.Body)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the body read ended cleanly for a client gone; want it cut")
		}
	case <-time.After(3 * time.Second):
		release <- struct{}{} // the server closes: a body that looks whole
		err := <-done
		t.Fatalf("the body read waited on the server after the client went (then: %v); want it cut at once", err)
	}
}
