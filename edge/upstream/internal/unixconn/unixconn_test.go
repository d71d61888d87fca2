package unixconn

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Conn's raw reads and writes keep what os.File's gave: the poller's
// waits under deadlines (a write larger than the socket's buffer, a read
// with nothing to read), io.EOF at the peer's close, EPIPE after it, and
// no allocation per read or write.
func TestUnixConnRawIO(t *testing.T) {
	_, c, peer := connected(t)
	defer c.Close()

	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB: the write waits for the reader
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(peer, int64(len(big))))
		got <- b
	}()
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Write(big); n != len(big) || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	if b := <-got; !bytes.Equal(b, big) {
		t.Fatalf("the peer read %d bytes, not the %d written", len(b), len(big))
	}

	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	buf := make([]byte, 64)
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
	c.SetReadDeadline(time.Time{})

	peer.Write([]byte("hello"))
	one := []byte("y")
	if allocs := testing.AllocsPerRun(100, func() {
		c.Write(one)
		peer.Read(buf)
	}); allocs != 0 {
		t.Errorf("a write allocates %v times", allocs)
	}
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read: %q, %v", buf[:n], err)
	}
	if allocs := testing.AllocsPerRun(100, func() {
		peer.Write(one)
		c.Read(buf)
	}); allocs != 0 {
		t.Errorf("a read allocates %v times", allocs)
	}

	peer.Close()
	if n, err := c.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("read after the peer's close: %d, %v; want io.EOF", n, err)
	}
	var werr error
	for range 3 { // the first write after the close may still be taken
		if _, werr = c.Write([]byte("more")); werr != nil {
			break
		}
	}
	if !errors.Is(werr, syscall.EPIPE) && !errors.Is(werr, syscall.ECONNRESET) {
		t.Fatalf("write after the peer's close: %v, want EPIPE", werr)
	}
}

// connected returns a Conn dialled to a fresh socket, and the server's end
// of it; the listener and the server's end are closed when the test ends.
func connected(t *testing.T) (sock string, c *Conn, peer net.Conn) {
	t.Helper()
	sock = filepath.Join(t.TempDir(), "u.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if c, err = Dial(sock); err != nil {
		t.Fatal(err)
	}
	if peer, err = l.Accept(); err != nil {
		c.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	return sock, c, peer
}
