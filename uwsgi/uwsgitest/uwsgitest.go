// Package uwsgitest provides what tests of a uwsgi server need, as
// net/http/httptest does for HTTP: request packets as nginx sends them and
// a client that sends one over a Unix socket and reads the answer; and,
// for tests of a uwsgi client (the edge's transport), a server (Serve).
package uwsgitest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stack-web/stack/uwsgi"
)

// Request encodes a request packet as nginx's uwsgi_pass with the stock
// uwsgi_params would send it, followed by body. headers are name, value
// pairs, sent as HTTP_* variables.
func Request(method, uri string, body string, headers ...string) []byte {
	var e uwsgi.Encoder
	e.Reset(nil, 0, 0)
	path, query, _ := strings.Cut(uri, "?")
	e.Add("QUERY_STRING", query)
	e.Add("REQUEST_METHOD", method)
	e.Add("CONTENT_LENGTH", fmt.Sprint(len(body)))
	e.Add("REQUEST_URI", uri)
	e.Add("PATH_INFO", path)
	e.Add("SERVER_PROTOCOL", "HTTP/1.1")
	e.Add("REMOTE_ADDR", "127.0.0.1")
	e.Add("REMOTE_PORT", "1234")
	e.Add("HTTP_HOST", "test")
	for i := 0; i+1 < len(headers); i += 2 {
		e.AddHeader(headers[i], headers[i+1])
	}
	b, err := e.Bytes(0)
	if err != nil {
		panic(err)
	}
	return append(b, body...)
}

// Do sends raw on a new connection to the Unix socket sock and parses the
// response to a request of method; a failure ends the test.
func Do(t testing.TB, sock string, method string, raw []byte) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return resp, string(body)
}

// Exchange sends raw and returns every byte the server sent until it
// closed (or 10 s passed), for responses that are not well-formed HTTP.
func Exchange(t testing.TB, sock string, raw []byte) string {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Error(err)
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write(raw)
	out, _ := io.ReadAll(c)
	return string(out)
}

// Send writes raw on a new connection, half-closes it and reads whatever
// the server answers until it closes: the way to feed a server malformed
// packets and make sure it is done with them.
func Send(t testing.TB, sock string, raw []byte) {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write(raw)
	c.(*net.UnixConn).CloseWrite()
	io.ReadAll(c)
}

// Hello is an answer that ends at the close, as a WSGI app's through
// uWSGI.
const Hello = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<h1>Hello, web!</h1>"

// Serve serves each connection to a new Unix socket with serve, then
// closes it, until the test ends; accepted counts the connections.
func Serve(t testing.TB, serve func(c net.Conn)) (sock string, accepted *atomic.Int64) {
	sock = filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int64)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			wg.Go(func() {
				defer c.Close()
				serve(c)
			})
		}
	})
	t.Cleanup(func() { l.Close(); wg.Wait() })
	return sock, accepted
}

// ReadPacket reads a request's packet from c, as uWSGI does before it
// answers, and reports whether it came whole within 5 s.
func ReadPacket(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := uwsgi.ReadPacket(bufio.NewReader(c), uwsgi.MaxBufferSize, nil)
	return err == nil
}
