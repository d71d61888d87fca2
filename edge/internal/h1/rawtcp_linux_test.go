package h1

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// tcpPair is a connected pair: the server's end wrapped raw, the client's
// plain.
func tcpPair(t *testing.T) (*rawTCP, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	raw, ok := wrapTCP(server).(*rawTCP)
	if !ok {
		t.Fatalf("wrapTCP(%T) did not wrap", server)
	}
	t.Cleanup(func() { raw.Close(); client.Close() })
	return raw, client
}

// The raw connection reads and writes as net.TCPConn does: its errors say
// timeout, closed and EOF the same way, a large write goes through the
// poller's waits whole, and writes at once do not interleave.
func TestRawTCPBehavesAsTCPConn(t *testing.T) {
	raw, client := tcpPair(t)

	raw.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	_, err := raw.Read(make([]byte, 10))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
	raw.SetReadDeadline(time.Time{})

	// 8 MiB from 4 writers at once: more than the socket buffers take, so
	// each write waits in the poller; each writer's block arrives whole.
	const block = 2 << 20
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(client)
		got <- b
	}()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if n, err := raw.Write(bytes.Repeat([]byte{byte('a' + i)}, block)); n != block || err != nil {
				t.Errorf("write: %d, %v", n, err)
			}
		}()
	}
	wg.Wait()
	raw.CloseWrite()
	b := <-got
	if len(b) != 4*block {
		t.Fatalf("read %d bytes, want %d", len(b), 4*block)
	}
	for i := 0; i < len(b); i += block {
		if bytes.Count(b[i:i+block], b[i:i+1]) != block {
			t.Fatalf("block at %d is interleaved with another", i)
		}
	}

	io.WriteString(client, "hello")
	client.(*net.TCPConn).CloseWrite()
	buf := make([]byte, 16)
	if n, err := raw.Read(buf); n != 5 || err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read: %d %q %v", n, buf[:n], err)
	}
	if n, err := raw.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("read at the end: %d, %v, want io.EOF", n, err)
	}

	raw.Close()
	if _, err := raw.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after Close: %v, want net.ErrClosed", err)
	}
	if _, err := raw.Write(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v, want net.ErrClosed", err)
	}
}

// A write to a client that reset the connection fails with the errno, as
// net.TCPConn's does, and does not hang.
func TestRawTCPWriteToAResetPeer(t *testing.T) {
	raw, client := tcpPair(t)
	client.(*net.TCPConn).SetLinger(0)
	client.Close()
	time.Sleep(20 * time.Millisecond)
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		_, err = raw.Write(make([]byte, 64<<10))
	}
	if err == nil {
		t.Fatal("writes to a reset peer kept succeeding")
	}
	var se *os.SyscallError
	if !errors.As(err, &se) {
		t.Fatalf("write error %v (%T), want a syscall error inside", err, err)
	}
}
