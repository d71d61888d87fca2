package e2e

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

// A response that harakiri ends mid-body reaches the client broken, never
// complete: the appserver frames it chunked (STACK_RESPONSE_FRAMING) and
// closes without the last chunk; the edge aborts the client's connection
// without its own, and logs why, naming the server (issue 15 item 1).
func TestEdgeWireHarakiriMidStreamAbortsTheClient(t *testing.T) {
	dir := writeConfig(t, strings.Replace(edgeWireConfig, "  app: echo\n", "  app: echo\n  harakiri: 2s\n", 1))
	p := start(t, dir, "up")
	c := edgeWireDial(t, p.url())
	io.WriteString(c, "GET /stream/20?interval=0.5 HTTP/1.1\r\nHost: a\r\n\r\n")
	var got bytes.Buffer
	c.SetDeadline(time.Now().Add(15 * time.Second))
	_, err := io.Copy(&got, c) // until the edge closes (or resets)
	if err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("reading the stream: %v (got %q)", err, got.String())
	}
	s := got.String()
	if !strings.HasPrefix(s, "HTTP/1.1 200 ") || !strings.Contains(s, "Transfer-Encoding: chunked") {
		t.Fatalf("want a chunked 200 that had started; got %q", s)
	}
	if n := strings.Count(s, `"path":"/stream/20"`); n == 0 || n >= 20 {
		t.Errorf("%d of 20 lines arrived; harakiri at 2s should cut the stream", n)
	}
	if strings.HasSuffix(s, "0\r\n\r\n") {
		t.Errorf("the client got a complete chunked response for a cut one:\n%s", s)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.Output(), "upstream prematurely closed connection") {
		if time.Now().After(deadline) {
			t.Fatalf("the edge did not log the premature close:\n%s", p.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(p.Output(), "run/app.sock") {
		t.Errorf("the log does not name the server:\n%s", p.Output())
	}
}
