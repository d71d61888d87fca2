package bench

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The load generator never retries and counts what failed: a server that
// resets every fifth connection (on its third request) shows
// those resets, and every request the server read is either a response or
// a failure in the counts.
func TestLoadCountsResetsHonestly(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns, received, resets atomic.Int64
	var wg sync.WaitGroup
	defer func() { l.Close(); wg.Wait() }()
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n := conns.Add(1)
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for served := 0; ; served++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					received.Add(1)
					if n%5 == 0 && served == 2 {
						c.(*net.TCPConn).SetLinger(0) // close with RST
						resets.Add(1)
						return
					}
					req.Body.Close()
					if served == 2 { // connections turn over: three requests each
						c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"))
						return
					}
					c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
				}
			})
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	res := Load{Addr: l.Addr().String(), Conns: 4, Request: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")}.Run(ctx)
	t.Logf("requests %d, errors %v, server: %d connections, %d requests, %d resets", res.Requests, res.Errors, conns.Load(), received.Load(), resets.Load())
	if res.Errors["reset"]+res.Errors["eof"] == 0 || resets.Load() == 0 {
		t.Fatalf("no resets counted: %v", res.Errors)
	}
	// Each reset connection cost exactly one failed request; the last
	// requests in flight when the run ended are counted by neither side.
	failed := int64(res.Errors["reset"] + res.Errors["eof"])
	if failed > resets.Load() || failed < resets.Load()-4 {
		t.Errorf("%d failures counted for %d resets", failed, resets.Load())
	}
	if got := int64(res.Requests) + failed; got > received.Load() || got < received.Load()-8 {
		t.Errorf("client accounted for %d requests, the server read %d: a retry or a lost count", got, received.Load())
	}
	if res.Percentile(50) <= 0 || res.Percentile(99) < res.Percentile(50) {
		t.Errorf("percentiles p50 %v p99 %v", res.Percentile(50), res.Percentile(99))
	}
}
