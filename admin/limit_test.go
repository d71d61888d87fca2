package admin

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
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
	c.Write([]byte("POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 200000\r\n\r\nab"))
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

// Past maxConns, a new client is served in place of the oldest
// connection that has no request being served: probes got no answer
// while 64 clients held the slots with half a request head, or idle
// after one request (break-it 15).
func TestAdminTCPProbesGetThroughConnectionsThatHoldSlots(t *testing.T) {
	s := New(Config{Listen: "127.0.0.1:0"}, Sources{}, nil, quiet)
	s.limits.maxConns = 4
	serveForTest(t, s)
	var held []net.Conn
	for i := range 4 {
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if i%2 == 0 {
			c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: a\r\n")) // and never the end of the head
		} else {
			c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")) // then kept alive
			if line, err := bufio.NewReader(c).ReadString('\n'); !strings.HasPrefix(line, "HTTP/1.1 200 ") {
				t.Fatalf("got %q, %v", line, err)
			}
		}
		held = append(held, c)
		time.Sleep(20 * time.Millisecond) // accepted in this order
	}
	for i := range 3 {
		probe, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		probe.Write([]byte("GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
		probe.SetReadDeadline(time.Now().Add(2 * time.Second))
		if line, err := bufio.NewReader(probe).ReadString('\n'); !strings.HasPrefix(line, "HTTP/1.1 200 ") {
			t.Fatalf("probe %d with every slot held: %q, %v", i, line, err)
		}
		probe.Close()
		// The oldest of the held ones made room for it.
		held[i].SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.ReadAll(held[i]); err != nil {
			t.Errorf("held connection %d still open after probe %d: %v", i, i, err)
		}
		// The slot the probe freed is taken again.
		c, err := net.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("GET /healthz HTTP/1.1\r\n"))
		held = append(held, c)
		time.Sleep(20 * time.Millisecond)
	}
}

// A request being served keeps its connection: with every slot serving
// one, a new client waits in the kernel's queue until one closes.
func TestAdminTCPBoundsConnectionsServingRequests(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := newLimitListener(ln, 2)
	release := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, "ok")
	})}
	l.serve(srv)
	go srv.Serve(l)
	defer srv.Close()
	var slow []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("GET /slow HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
		slow = append(slow, c)
	}
	time.Sleep(100 * time.Millisecond) // both in their handler
	third, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	third.Write([]byte("GET /fast HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
	third.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := third.Read(make([]byte, 1)); err == nil {
		t.Fatal("a third connection was served while two served requests (maxConns 2)")
	}
	close(release)
	for i, c := range append(slow, third) {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if b, err := io.ReadAll(c); err != nil || !strings.HasPrefix(string(b), "HTTP/1.1 200 ") {
			t.Errorf("connection %d: %.40q, %v", i, b, err)
		}
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
