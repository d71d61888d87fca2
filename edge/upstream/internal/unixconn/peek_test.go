package unixconn

import (
	"io"
	"testing"
)

// PeekEnd tells, without waiting and without taking a byte, nothing yet
// from bytes to read from the end of the stream, and reports a closed
// connection.
func TestUnixConnPeekEnd(t *testing.T) {
	_, c, peer := connected(t)
	defer c.Close()
	if eof, err := c.PeekEnd(); eof || err != nil {
		t.Fatalf("nothing sent yet: PeekEnd %v, %v; want false, nil", eof, err)
	}
	peer.Write([]byte("ab"))
	if eof, err := c.PeekEnd(); eof || err != nil {
		t.Fatalf("bytes to read: PeekEnd %v, %v; want false, nil", eof, err)
	}
	buf := make([]byte, 8)
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "ab" {
		t.Fatalf("read after the peeks: %q, %v; want the two bytes", buf[:n], err)
	}
	peer.Close()
	if eof, err := c.PeekEnd(); !eof || err != nil {
		t.Fatalf("the peer closed: PeekEnd %v, %v; want true, nil", eof, err)
	}
	if n, err := c.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("read at the end: %d, %v; want io.EOF", n, err)
	}
	c.Close()
	if _, err := c.PeekEnd(); err == nil {
		t.Fatal("a closed connection was peeked at")
	}
}
