package edge_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/uwsgi"
)

// A client that keeps sending but never reads what the upstream sends it
// is closed by send_timeout, as nginx bounds an upgraded connection's
// writes downstream: its frames kept the idle limit from firing, and the
// edge's write to it, and with it the upstream's connection and app slot,
// stayed blocked for ever (break-it 15).
func TestWebSocketClientThatNeverReadsIsClosedBySendTimeout(t *testing.T) {
	upstreamDone := make(chan error, 1)
	up := startFakeUpstream(t, func(c net.Conn, _ uwsgi.Vars) {
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
		go io.Copy(io.Discard, c)
		chunk := make([]byte, 64<<10)
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := c.Write(chunk); err != nil {
				upstreamDone <- err
				return
			}
		}
		upstreamDone <- nil
	})
	cfg := uwsgiConfig(up.sock)
	cfg.SendTimeout = 300 * time.Millisecond
	cfg.Locations = []edge.LocationConfig{{Path: "/", Upstream: "app", WebSocket: edge.WebSocketConfig{IdleTimeout: time.Minute}}}
	e, base := wsEdge(t, cfg)
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(4096)
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("%v %v", resp, err)
	}
	// From here the client only writes: a byte every 50 ms, well inside
	// the idle limit, until the edge closes the connection.
	start := time.Now()
	for e.OpenConnections() > 0 {
		if time.Since(start) > 10*time.Second {
			t.Fatal("the edge still holds a connection whose client has not read for 10 s (send_timeout 300ms)")
		}
		if _, err := c.Write([]byte{0}); err != nil {
			break // closed by the edge
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitFor(t, "counted closed", func() bool { return e.OpenConnections() == 0 })
	t.Logf("closed %v after the switch", time.Since(start).Round(time.Millisecond))
	select {
	case err := <-upstreamDone:
		if err == nil {
			t.Error("the upstream's writes went on for 20 s")
		}
	case <-time.After(10 * time.Second):
		t.Error("the upstream's side is still open 10 s after the client's was closed")
	}
}
