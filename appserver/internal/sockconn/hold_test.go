package sockconn

import (
	"bytes"
	"errors"
	"io"
	"os"
	"syscall"
	"testing"
	"time"
)

// peerRead reads exactly n bytes from the raw descriptor peer (blocking).
func peerRead(t *testing.T, peer, n int) []byte {
	t.Helper()
	got := make([]byte, 0, n)
	buf := make([]byte, n)
	for len(got) < n {
		m, err := syscall.Read(peer, buf[:n-len(got)])
		if err != nil || m == 0 {
			t.Fatalf("peer read after %d of %d bytes: %d, %v", len(got), n, m, err)
		}
		got = append(got, buf[:m]...)
	}
	return got
}

// What is written while holding reaches the peer only with the next Read,
// which then returns the peer's next request; a connection not yet in the
// poller (its first request) and one in it both.
func TestHoldWritesGoWithTheNextRead(t *testing.T) {
	for _, polled := range []bool{false, true} {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		peer := fds[1]
		syscall.SetNonblock(fds[0], true)
		c := NewFD(fds[0], 4*time.Second, nil)
		if polled {
			c.poll()
		}
		c.started = true
		for round := range 3 {
			c.HoldWrites()
			c.Write([]byte("head;"))
			c.Write([]byte("body"))
			if c.Unread() {
				t.Fatal("Unread on an idle connection")
			}
			// Nothing out yet: the answer waits for the read.
			syscall.SetNonblock(peer, true)
			if n, err := syscall.Read(peer, make([]byte, 16)); err != syscall.EAGAIN {
				t.Fatalf("polled %v, round %d: the peer read %d bytes, %v before the next Read", polled, round, n, err)
			}
			syscall.SetNonblock(peer, false)
			go func() {
				time.Sleep(10 * time.Millisecond)
				syscall.Write(peer, []byte("next"))
			}()
			buf := make([]byte, 16)
			n, err := c.Read(buf)
			if err != nil || string(buf[:n]) != "next" {
				t.Fatalf("polled %v, round %d: Read = %q, %v", polled, round, buf[:n], err)
			}
			if got := peerRead(t, peer, 9); string(got) != "head;body" {
				t.Fatalf("polled %v, round %d: the peer got %q", polled, round, got)
			}
		}
		c.Close()
		syscall.Close(peer)
	}
}

// ReleaseWrites sends what is held at once; more than holdMax goes out at
// once too, in order; after either, writes go straight out again.
func TestHoldWritesReleaseAndOverflow(t *testing.T) {
	c, peer := polledPair(t, 4*time.Second)
	c.HoldWrites()
	c.Write([]byte("short"))
	if err := c.ReleaseWrites(); err != nil {
		t.Fatal(err)
	}
	if got := peerRead(t, peer, 5); string(got) != "short" {
		t.Fatalf("released %q", got)
	}
	c.Write([]byte("direct"))
	if got := peerRead(t, peer, 6); string(got) != "direct" {
		t.Fatalf("after the release %q", got)
	}

	c.HoldWrites()
	first := bytes.Repeat([]byte("a"), holdMax-10)
	second := bytes.Repeat([]byte("b"), 100)
	c.Write(first)
	c.Write(second) // past holdMax: both go out now
	if got := peerRead(t, peer, len(first)+len(second)); !bytes.Equal(got, append(first, second...)) {
		t.Fatal("an overflowing hold sent its bytes out of order")
	}
	if c.holding {
		t.Fatal("still holding after an overflow")
	}
}

// Abort while an answer is held (a shutdown closing idle connections)
// ends the next request's wait at once, but the answer still goes out;
// also when the poller has taken the shutdown's event before the read
// begins (the read then waited for another until its deadline: a flaky
// failure in CI), and when the read is already waiting.
func TestHoldWritesAbortKeepsTheAnswer(t *testing.T) {
	for _, tc := range []struct {
		name       string
		settle     time.Duration // after Abort, before the Read
		abortAfter time.Duration // Abort once the Read has begun
	}{{"abort, then read", 0, 0}, {"abort, poller, read", 50 * time.Millisecond, 0}, {"read waits, abort", 0, 50 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) { holdAbort(t, tc.settle, tc.abortAfter) })
	}
}

func holdAbort(t *testing.T, settle, abortAfter time.Duration) {
	c, peer := polledPair(t, 4*time.Second)
	c.HoldWrites()
	c.Write([]byte("answer"))
	if abortAfter == 0 {
		c.Abort()
		time.Sleep(settle)
	} else {
		go func() { time.Sleep(abortAfter); c.Abort() }()
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 8))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read after Abort = %v, want EOF (or the deadline Abort set)", err)
		}
	case <-time.After(2 * time.Second): // the connection's timeout is 4 s
		t.Fatal("Read after Abort did not end")
	}
	if got := peerRead(t, peer, 6); string(got) != "answer" {
		t.Fatalf("the peer got %q", got)
	}
	// With nothing held, Abort shuts both sides: a write fails.
	c2, _ := polledPair(t, 4*time.Second)
	c2.Abort()
	if _, err := c2.Write([]byte("x")); err == nil {
		t.Fatal("a write after Abort went out")
	}
}

// The peer gone before the held answer is sent: the next Read reports the
// write's failure.
func TestHoldWritesPeerGone(t *testing.T) {
	c, peer := polledPair(t, 4*time.Second)
	c.HoldWrites()
	c.Write([]byte("answer"))
	syscall.Shutdown(peer, syscall.SHUT_RDWR) // the cleanup closes it
	if _, err := c.Read(make([]byte, 8)); !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("Read with the peer gone = %v, want EPIPE", err)
	}
}
