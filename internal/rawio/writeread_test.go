package rawio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// unixPair is a connected pair of Unix stream sockets, both under the
// runtime's poller.
func unixPair(t *testing.T) (a, b *net.UnixConn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "pair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.(*net.UnixConn)
	}
	return conn(fds[0]), conn(fds[1])
}

func ioOf(t *testing.T, c *net.UnixConn) *IO {
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return New(rc)
}

// WriteRead writes the request whole and returns the answer that comes
// after it, however late; the peer sees the request before it answers.
func TestWriteReadRequestThenAnswer(t *testing.T) {
	a, b := unixPair(t)
	x := ioOf(t, a)
	for i, delay := range []time.Duration{0, 20 * time.Millisecond, 0} {
		done := make(chan error, 1)
		go func() {
			got := make([]byte, 7)
			if _, err := io.ReadFull(b, got); err != nil {
				done <- err
				return
			}
			if string(got) != "request" {
				done <- errors.New("peer read " + string(got))
				return
			}
			time.Sleep(delay)
			_, err := b.Write([]byte("answer"))
			done <- err
		}()
		buf := make([]byte, 64)
		wn, n, err := x.WriteRead([]byte("request"), buf)
		if err != nil || wn != 7 || string(buf[:n]) != "answer" {
			t.Fatalf("round %d: WriteRead = %d, %q, %v", i, wn, buf[:n], err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// An answer the peer gives at once (before the wait starts) is not lost:
// the write is inside the read, after the poller's reset.
func TestWriteReadAnswerAtOnce(t *testing.T) {
	a, b := unixPair(t)
	x := ioOf(t, a)
	go echo(b)
	deadline := time.Now().Add(10 * time.Second)
	a.SetReadDeadline(deadline)
	for i := range 2000 {
		buf := make([]byte, 8)
		_, n, err := x.WriteRead([]byte("ping"), buf)
		if err != nil || string(buf[:n]) != "ping" {
			t.Fatalf("round %d: %q, %v (a lost answer waits until the deadline)", i, buf[:n], err)
		}
	}
}

// A request larger than the socket takes at once goes on as Write does,
// and the answer is then read as Read does.
func TestWriteReadFullBuffer(t *testing.T) {
	a, b := unixPair(t)
	x := ioOf(t, a)
	big := bytes.Repeat([]byte("x"), 4<<20)
	go func() {
		got := make([]byte, len(big))
		if _, err := io.ReadFull(b, got); err != nil {
			return
		}
		b.Write([]byte("done"))
	}()
	a.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 8)
	wn, n, err := x.WriteRead(big, buf)
	if err != nil || wn != len(big) || string(buf[:n]) != "done" {
		t.Fatalf("WriteRead = %d of %d, %q, %v", wn, len(big), buf[:n], err)
	}
}

// A peer that never answers: the read deadline ends the wait, with the
// request written. A peer gone: the write's error, nothing read.
func TestWriteReadDeadlineAndPeerGone(t *testing.T) {
	a, b := unixPair(t)
	x := ioOf(t, a)
	a.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	buf := make([]byte, 8)
	wn, n, err := x.WriteRead([]byte("hello"), buf)
	if !errors.Is(err, os.ErrDeadlineExceeded) || wn != 5 || n != 0 {
		t.Fatalf("WriteRead past the deadline = %d, %d, %v; want 5, 0, deadline exceeded", wn, n, err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(b, got); err != nil || string(got) != "hello" {
		t.Fatalf("the peer read %q, %v", got, err)
	}

	a.SetReadDeadline(time.Time{})
	b.Close()
	wn, n, err = x.WriteRead([]byte("again"), buf)
	if !errors.Is(err, syscall.EPIPE) || n != 0 {
		t.Fatalf("WriteRead to a closed peer = %d, %d, %v; want EPIPE", wn, n, err)
	}
}

// The end of the stream after the write is 0, nil, as Read says it.
func TestWriteReadEOF(t *testing.T) {
	a, b := unixPair(t)
	x := ioOf(t, a)
	go func() {
		got := make([]byte, 3)
		io.ReadFull(b, got)
		b.CloseWrite()
	}()
	a.SetReadDeadline(time.Now().Add(10 * time.Second))
	wn, n, err := x.WriteRead([]byte("bye"), make([]byte, 8))
	if wn != 3 || n != 0 || err != nil {
		t.Fatalf("WriteRead at the peer's end = %d, %d, %v; want 3, 0, nil", wn, n, err)
	}
}

// Many pairs at once, each answering at once: the poller is busy on
// every thread, and an answer's readiness seen between the write and the
// wait would be forgotten if the write came before the read's reset (a
// lost answer waits for the deadline).
func TestWriteReadManyAtOnce(t *testing.T) {
	const pairs, rounds = 8, 3000
	errs := make(chan error, pairs)
	for range pairs {
		a, b := unixPair(t)
		x := ioOf(t, a)
		go echo(b)
		go func() {
			buf := make([]byte, 8)
			for i := range rounds {
				a.SetReadDeadline(time.Now().Add(2 * time.Second))
				_, n, err := x.WriteRead([]byte("ping"), buf)
				if err != nil || string(buf[:n]) != "ping" {
					errs <- fmt.Errorf("round %d: %q, %v", i, buf[:n], err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range pairs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// echo writes back what it reads from b until b ends.
func echo(b *net.UnixConn) {
	buf := make([]byte, 64)
	for {
		n, err := b.Read(buf)
		if err != nil {
			return
		}
		b.Write(buf[:n])
	}
}
