package admin

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// A client that sends a POST /reload to the TCP listener with a body it
// trickles gets its 403, then net/http reads the body to reuse the
// connection, with no deadline of its own: found by running the binary,
// 4,000 such connections stayed open (4,000 descriptors, RSS 32 → 119
// MB) for as long as the client wished. The read timeout closes them.
func TestAdminTCPClosesClientsThatTrickleABody(t *testing.T) {
	s := New(Config{Listen: "127.0.0.1:0"}, Sources{}, nil, quiet)
	s.limits.readTimeout = 300 * time.Millisecond
	serveForTest(t, s)
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("POST /reload HTTP/1.1\r\nHost: a\r\nContent-Length: 200000\r\n\r\nab"))
	stop := make(chan struct{})
	defer close(stop)
	go func() { // keep trickling
		for tick := time.NewTicker(50 * time.Millisecond); ; {
			select {
			case <-stop:
				return
			case <-tick.C:
				c.Write([]byte("x"))
			}
		}
	}()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c) // to EOF, or a reset: the bytes it did not read
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the admin kept a connection trickling a body for 10 s (read timeout 300 ms): %v, read %q", err, got)
	}
	if !strings.HasPrefix(string(got), "HTTP/1.1 403 ") {
		t.Errorf("got %.60q, want the 403 before the close", got)
	}
}

// Past maxConns the TCP listener stops accepting until one closes.
func TestAdminTCPBoundsOpenConnections(t *testing.T) {
	s := New(Config{Listen: "127.0.0.1:0"}, Sources{}, nil, quiet)
	s.limits.maxConns = 2
	serveForTest(t, s)
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")) // then kept alive
		if line, err := bufio.NewReader(c).ReadString('\n'); !strings.HasPrefix(line, "HTTP/1.1 200 ") {
			t.Fatalf("got %q, %v", line, err)
		}
		held = append(held, c)
	}
	third, err := net.Dial("tcp", s.Addr().String()) // in the kernel's queue
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	third.Write([]byte("GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
	third.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := third.Read(make([]byte, 1)); err == nil {
		t.Fatal("a third connection was served while two were open (maxConns 2)")
	}
	held[0].Close()
	third.SetReadDeadline(time.Now().Add(10 * time.Second))
	if line, err := bufio.NewReader(third).ReadString('\n'); !strings.HasPrefix(line, "HTTP/1.1 200 ") {
		t.Fatalf("once one closed, the third got %q, %v", line, err)
	}
}

func serveForTest(t *testing.T, s *Server) {
	t.Helper()
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		<-done
	})
}
