package transport

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/uwsgi"
	"github.com/stack-web/stack/uwsgi/uwsgitest"
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
	sock, _ := uwsgitest.Serve(t, func(c net.Conn) {
		if uwsgitest.ReadPacket(c) {
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
			sock, _ := uwsgitest.Serve(t, func(c net.Conn) {
				if uwsgitest.ReadPacket(c) {
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
