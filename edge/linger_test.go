package edge_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/edge"
)

// A client that writes its whole body before reading (as Python's
// http.client does) must read the edge's early 413, not a reset.
func TestEarly413IsReadNotReset(t *testing.T) {
	base := startEdge(t, proxyConfig("unix:"+startApp(t, http.HandlerFunc(echoHandler))))
	for i := range 2 {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		body := bytes.Repeat([]byte("x"), 2<<20)
		if _, err := io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 2097152\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		// At the pace of a real network: net/http alone closes 500 ms
		// after its answer, while such a client is still sending.
		for off := 0; off < len(body); off += 64 << 10 {
			if _, err := c.Write(body[off : off+64<<10]); err != nil {
				t.Fatalf("try %d: writing the body at %d: %v", i, off, err)
			}
			time.Sleep(25 * time.Millisecond)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("try %d: reading the answer: %v", i, err)
		}
		b, err := io.ReadAll(resp.Body)
		if resp.StatusCode != 413 || err != nil || !strings.HasPrefix(string(b), "413") {
			t.Fatalf("try %d: got %d %q (err %v), want 413", i, resp.StatusCode, b, err)
		}
		c.Close()
	}
}

// The answer ends with the edge's write side shut (the client sees EOF),
// and lingering ends after lingering_timeout of silence: then the edge has
// closed, and further writes are refused.
func TestLingeringEndsAfterSilence(t *testing.T) {
	cfg := proxyConfig("unix:" + startApp(t, http.HandlerFunc(echoHandler)))
	cfg.LingeringTimeout = 300 * time.Millisecond
	base := startEdge(t, cfg)
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2097152\r\n\r\nsome")
	got, err := io.ReadAll(c) // the answer, then EOF when the edge gives up
	if err != nil || !strings.HasPrefix(string(got), "HTTP/1.1 413 ") {
		t.Fatalf("got %q, err %v; want a 413 and then EOF", got, err)
	}
	if _, err := io.WriteString(c, "more"); err != nil {
		t.Fatalf("the edge stopped reading while it should linger: %v", err)
	}
	time.Sleep(time.Second) // > lingering_timeout
	var werr error
	for range 3 {
		if _, werr = io.WriteString(c, "late"); werr != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if werr == nil {
		t.Error("the edge still reads after lingering_timeout of silence")
	}
}

// A lingering connection is the edge's to end at Shutdown: it is no longer
// net/http's, which would not wait for it nor close it.
func TestShutdownEndsLingering(t *testing.T) {
	cfg := proxyConfig("unix:" + startApp(t, http.HandlerFunc(echoHandler)))
	cfg.Listen = []string{"127.0.0.1:0"}
	cfg.LingeringTime, cfg.LingeringTimeout = time.Minute, time.Minute
	e, err := edge.New(cfg, t.TempDir(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- e.Serve() }()
	c, err := net.Dial("tcp", e.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2097152\r\n\r\nsome")
	if got, err := io.ReadAll(c); err != nil || !strings.HasPrefix(string(got), "HTTP/1.1 413 ") {
		t.Fatalf("got %q, err %v; want a 413 and then EOF", got, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	// The edge closed the lingering socket: the client's writes fail.
	var werr error
	for range 20 {
		if _, werr = io.WriteString(c, "late"); werr != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if werr == nil {
		t.Error("the lingering connection outlived Shutdown")
	}
}
