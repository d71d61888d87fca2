package upstream

import (
	"io"
	"net"

	"strings"
	"testing"
	"time"
)

// A close-delimited body of exactly the read buffer's 4 KiB that ends at
// the close is whole when the wait ends: it gets its length, as any
// smaller one does ("a body past 4 KiB" is not waited for; this one is
// not past it). The server's close follows its write by a moment, which
// the transport may read between: of 20 such answers, some must be sized
// (none was: a full buffer ended the wait as for a stream).
func TestBodyOfExactly4KiBGetsItsLength(t *testing.T) {
	body := strings.Repeat("x", 4096)
	sock, _ := connServer(t, func(c net.Conn) {
		if readPacket(c) {
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
