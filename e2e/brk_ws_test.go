package e2e

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Break-it cases for WebSocket through the edge (issue 9 point 2), run
// against the real binary.

// A WebSocket outlives harakiri in worker processes: the master's
// harakiri backstop (harakiri + 2s grace + 1s) must not take the
// hijacked request for an overdue one and SIGKILL the worker, with every
// WebSocket it holds.
func TestBrkWSOutlivesHarakiriBackstop(t *testing.T) {
	for _, protocol := range []string{"uwsgi", "http"} {
		t.Run(protocol, func(t *testing.T) {
			t.Parallel()
			a := adminUp(t, edgeWSConfig(protocol, "off"))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, _, err := websocket.Dial(ctx, "ws://"+a.edge+"/ws", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			// Busy past the backstop's 4s (and its once-a-second check).
			for i, end := 0, time.Now().Add(6*time.Second); time.Now().Before(end); i++ {
				msg := []byte("m" + strconv.Itoa(i))
				if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
					t.Fatalf("after %v: write: %v\n%s", time.Since(end.Add(-6*time.Second)), err, a.p.Output())
				}
				if _, got, err := c.Read(ctx); err != nil || string(got) != string(msg) {
					t.Fatalf("after %v: read %q %v\n%s", time.Since(end.Add(-6*time.Second)), got, err, a.p.Output())
				}
				time.Sleep(250 * time.Millisecond)
			}
			if out := a.p.Output(); strings.Contains(out, "harakiri") {
				t.Errorf("harakiri fired on a WebSocket:\n%s", out)
			}
			c.Close(websocket.StatusNormalClosure, "")
		})
	}
}

// A chain reload (SIGHUP) retires the workers; one holding a WebSocket
// closes it at the end of shutdown_timeout and exits, rather than
// waiting for the retire mercy (60s without harakiri) to be killed with
// its clients left on a dead socket until then.
func TestBrkWSReloadClosesWebSocketsAfterShutdownTimeout(t *testing.T) {
	cfg := strings.Replace(edgeWSConfig("uwsgi", "off"), "  harakiri: 1s\n", "", 1)
	cfg = strings.Replace(cfg, "shutdown_timeout: 3s", "shutdown_timeout: 1s", 1)
	a := adminUp(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+a.edge+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Read(ctx); err != nil {
		t.Fatal(err)
	}
	a.p.cmd.Process.Signal(syscall.SIGHUP)
	reloaded := time.Now()
	rctx, rcancel := context.WithTimeout(ctx, 15*time.Second)
	defer rcancel()
	_, _, err = c.Read(rctx)
	took := time.Since(reloaded)
	t.Logf("the WebSocket ended %v after SIGHUP (shutdown_timeout 1s): %v", took.Round(time.Millisecond), err)
	if rctx.Err() != nil {
		t.Fatalf("the WebSocket on a retired worker still open 15s after SIGHUP\n%s", a.p.Output())
	}
	if out := a.p.Output(); strings.Contains(out, "did not exit within its mercy") {
		t.Errorf("a retired worker was killed:\n%s", out)
	}
	// The new workers serve WebSockets.
	n, _, err := websocket.Dial(ctx, "ws://"+a.edge+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.CloseNow()
	if err := n.Write(ctx, websocket.MessageText, []byte("y")); err != nil {
		t.Fatal(err)
	}
	if _, got, err := n.Read(ctx); err != nil || string(got) != "y" {
		t.Fatalf("after the reload: %q %v", got, err)
	}
}
