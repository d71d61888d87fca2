package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// slowBody is the size of a slow client's upload, sent 1 KiB every 50 ms:
// about 3 s per request, as a phone on a poor link posts a form or a photo.
const slowBody = 64 << 10

// startSlowClients runs n clients that each post a body slowly, again and
// again, until ctx ends; the returned function waits for them.
//
// Slow uploads rather than slow downloads: on loopback the kernel's send
// buffer (it grows to megabytes) takes a whole large response at once, so
// a slow reader holds no worker of a one-tier server unless the response
// is larger still; a slow upload holds the worker that reads it, there as
// on the internet. The edge reads the whole body before the app server
// sees the request (nginx's client_body_buffer_size), which is the claim.
func startSlowClients(ctx context.Context, addr string, n int) func() {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				slowRequest(ctx, addr)
			}
		})
	}
	return wg.Wait
}

func slowRequest(ctx context.Context, addr string) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		sleepCtx(ctx, 100*time.Millisecond)
		return
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	head := fmt.Sprintf("POST /upload HTTP/1.1\r\nHost: %s\r\nUser-Agent: stack-bench-slow\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", addr, slowBody)
	if _, err := io.WriteString(c, head); err != nil {
		return
	}
	chunk := make([]byte, 1024)
	for sent := 0; sent < slowBody && ctx.Err() == nil; sent += len(chunk) {
		if _, err := c.Write(chunk); err != nil {
			return
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
	if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
