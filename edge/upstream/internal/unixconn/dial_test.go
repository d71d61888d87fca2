package unixconn

import (
	"errors"
	"os"
	"testing"
	"time"
)

// A connection from Dial joins the runtime's poller only to wait: a
// read that finds its bytes and a write that fits are one system call
// each. Deadlines set before the first wait hold in it; one in the past
// fails a read even with bytes to read (the client's watch cuts a
// connection so); a deadline set or a Close from another goroutine ends
// a wait; a closed connection is not read.
func TestUnixConnJoinsThePollerOnlyToWait(t *testing.T) {
	sock, c, peer := connected(t)

	c.SetReadDeadline(time.Now().Add(time.Minute))
	if n, err := c.Write([]byte("request")); n != 7 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	buf := make([]byte, 64)
	if n, err := peer.Read(buf); err != nil || string(buf[:n]) != "request" {
		t.Fatalf("the peer read %q, %v", buf[:n], err)
	}
	peer.Write([]byte("answer"))
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "answer" {
		t.Fatalf("read: %q, %v", buf[:n], err)
	}
	if c.polled.Load() != nil {
		t.Fatal("a read and a write that did not wait registered with the poller")
	}

	peer.Write([]byte("x"))
	c.SetReadDeadline(time.Unix(1, 0))
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past its deadline, with a byte to read: %v, want a timeout", err)
	}
	c.SetReadDeadline(time.Time{})
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "x" {
		t.Fatalf("read after the deadline was cleared: %q, %v", buf[:n], err)
	}

	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read with nothing to read: %v, want the deadline set before the wait", err)
	}
	if c.polled.Load() == nil {
		t.Fatal("a read that waited did not register with the poller")
	}

	c.SetReadDeadline(time.Time{})
	go func() {
		time.Sleep(20 * time.Millisecond)
		c.SetDeadline(time.Unix(1, 0)) // as the client's watch does
	}()
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a wait cut by a deadline from another goroutine: %v, want a timeout", err)
	}

	c.SetDeadline(time.Time{})
	go func() {
		time.Sleep(20 * time.Millisecond)
		c.Close()
	}()
	if _, err := c.Read(buf); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("a wait ended by Close: %v, want os.ErrClosed", err)
	}
	if err := c.Close(); err == nil {
		t.Error("a second Close did not fail")
	}

	// Closed before any wait: no read of a number that may be another
	// file's by now.
	c2, err := Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Read(buf); !errors.Is(err, os.ErrClosed) {
		t.Errorf("read after Close: %v, want os.ErrClosed", err)
	}
	if _, err := c2.Write(buf); !errors.Is(err, os.ErrClosed) {
		t.Errorf("write after Close: %v, want os.ErrClosed", err)
	}
	if err := c2.SetReadDeadline(time.Now()); !errors.Is(err, os.ErrClosed) {
		t.Errorf("deadline after Close: %v, want os.ErrClosed", err)
	}
}
