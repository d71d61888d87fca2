package edge_test

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/uwsgi"
)

// A response the app asks not to be buffered (X-Accel-Buffering: no)
// reaches the client as it comes even when it has a Content-Length, as
// from nginx, whose unbuffered proxying sends each read of the upstream at
// once, with or without gzip: a progress page or an export of known size
// the app writes piece by piece. The forwarder flushed per read only a
// body of unknown length or an event stream, so the head and the first
// piece waited in the connection's buffer until the app had written
// everything.
func TestEdgeUnbufferedResponseWithLengthStreams(t *testing.T) {
	first := strings.Repeat("first piece of a known length\n", 10) // 300 bytes: above min_length
	rest := "the rest\n"
	release := make(chan struct{}, 1)
	up := startFakeUpstream(t, func(c net.Conn, vars uwsgi.Vars) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Accel-Buffering: no\r\n"+
			"Content-Length: "+itoa(len(first)+len(rest))+"\r\n\r\n"+first)
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
		io.WriteString(c, rest)
	})
	base, _ := startEdgeLogged(t, compressConfig(up.sock, t.TempDir()))
	for _, path := range []string{"/plain/x", "/x"} { // uncompressed, gzip
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		var got []byte
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			got = append(got, buf[:n]...)
			head, body, ok := strings.Cut(string(got), "\r\n\r\n")
			if ok && (strings.Contains(body, "first piece") || strings.Contains(head, "gzip") && len(body) > 20) {
				break
			}
			if err != nil {
				t.Errorf("%s: before the app wrote the rest, the client got %q (%v), want the head and the first piece", path, got, err)
				break
			}
		}
		release <- struct{}{}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, c)
		c.Close()
	}
}
