package e2e

import (
	"context"
	"strconv"
	"strings"
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
