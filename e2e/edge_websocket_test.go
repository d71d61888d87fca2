package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// WebSocket through the real binary (issue 9 point 2): the echo app's /ws
// behind the edge, in two worker processes, over uwsgi (the appserver's
// Hijacker) and over protocol: http, with a harakiri shorter than the
// WebSocket's life.

func edgeWSConfig(protocol, accessLog string) string {
	return fmt.Sprintf(`
run_dir: run
shutdown_timeout: 3s
edge:
  listen: ["127.0.0.1:0"]
  access_log: %q
  locations:
    - {path: /, upstream: app}
  upstreams:
    app: {protocol: %s, servers: ["unix:run/app.sock"]}
appserver:
  listen: unix:run/app.sock
  protocol: %s
  app: echo
  processes: 2
  harakiri: 1s
`, accessLog, protocol, protocol)
}

// edgeWSMetric reads one unlabelled sample from the admin's /metrics.
func edgeWSMetric(t *testing.T, a *adminStack, name string) float64 {
	t.Helper()
	code, _, expo := adminGet(a.admin, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(expo)
	if m == nil {
		t.Fatalf("/metrics has no %s", name)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// edgeWSWait polls cond for up to 10s.
func edgeWSWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("not %s within 10s", what)
		}
	}
}

func TestEdgeWebSocketEcho(t *testing.T) {
	for _, protocol := range []string{"uwsgi", "http"} {
		t.Run(protocol, func(t *testing.T) {
			logPath := filepath.Join(t.TempDir(), "access.log")
			a := adminUp(t, edgeWSConfig(protocol, logPath))
			base := "ws://" + a.edge + "/ws"
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			dial := func(url string) *websocket.Conn {
				c, resp, err := websocket.Dial(ctx, url, nil)
				if err != nil {
					t.Fatalf("dial %s: %v", url, err)
				}
				if resp.StatusCode != 101 {
					t.Fatalf("dial %s: status %d", url, resp.StatusCode)
				}
				t.Cleanup(func() { c.CloseNow() })
				return c
			}

			// A first WebSocket, closed, so that the goroutine count
			// below starts from warm pools.
			warm := dial(base)
			if err := warm.Write(ctx, websocket.MessageText, []byte("warm")); err != nil {
				t.Fatal(err)
			}
			if _, _, err := warm.Read(ctx); err != nil {
				t.Fatal(err)
			}
			warm.Close(websocket.StatusNormalClosure, "")
			edgeWSWait(t, "back to 0 open connections", func() bool { return edgeWSMetric(t, a, "stack_edge_open_connections") == 0 })
			baseline := edgeWSMetric(t, a, "go_goroutines")

			c := dial(base)
			c.SetReadLimit(4 << 20)
			// 1,000 messages both ways at once: a writer goroutine sends
			// while this one reads the echoes, in order.
			const n = 1000
			start := time.Now()
			werr := make(chan error, 1)
			go func() {
				for i := range n {
					if err := c.Write(ctx, websocket.MessageText, []byte("message "+strconv.Itoa(i))); err != nil {
						werr <- err
						return
					}
				}
				werr <- nil
			}()
			for i := range n {
				_, got, err := c.Read(ctx)
				if err != nil || string(got) != "message "+strconv.Itoa(i) {
					t.Fatalf("echo %d: %q %v", i, got, err)
				}
			}
			if err := <-werr; err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d messages echoed in %v", protocol, n, time.Since(start).Round(time.Millisecond))

			big := make([]byte, 1<<20)
			rand.Read(big)
			if err := c.Write(ctx, websocket.MessageBinary, big); err != nil {
				t.Fatal(err)
			}
			if _, got, err := c.Read(ctx); err != nil || !bytes.Equal(got, big) {
				t.Fatalf("1 MiB message: %d bytes back, %v", len(got), err)
			}

			// Quiet for longer than harakiri (1s): a WebSocket is no request.
			time.Sleep(1500 * time.Millisecond)
			if err := c.Write(ctx, websocket.MessageText, []byte("still here")); err != nil {
				t.Fatal(err)
			}
			if _, got, err := c.Read(ctx); err != nil || string(got) != "still here" {
				t.Fatalf("after harakiri's time: %q %v", got, err)
			}
			// The client closes.
			if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
				t.Fatalf("client close: %v", err)
			}

			// The server closes.
			s := dial(base + "?close_after=2")
			for i := range 2 {
				s.Write(ctx, websocket.MessageText, []byte("x"))
				if _, _, err := s.Read(ctx); err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
			}
			if _, _, err := s.Read(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				t.Errorf("server close: %v, want status 1000", err)
			}

			// A message over the app's limit: 1009, and nothing hangs.
			o := dial(base)
			junk := make([]byte, 2<<20)
			rand.Read(junk)
			o.Write(ctx, websocket.MessageBinary, junk)
			if _, _, err := o.Read(ctx); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
				t.Errorf("oversized message: %v, want status 1009", err)
			}

			// Nothing is left: no connection, no goroutine.
			edgeWSWait(t, "back to 0 open connections", func() bool { return edgeWSMetric(t, a, "stack_edge_open_connections") == 0 })
			var now float64
			edgeWSWait(t, "back to the goroutines before", func() bool {
				now = edgeWSMetric(t, a, "go_goroutines")
				return now <= baseline
			})
			t.Logf("%s: goroutines %v before, %v after", protocol, baseline, now)

			log, _ := os.ReadFile(logPath)
			if got := len(regexp.MustCompile(`"GET /ws(\?\S*)? HTTP/1.1" 101 \d+ `).FindAll(log, -1)); got != 4 {
				t.Errorf("%d access log lines with 101 for the 4 WebSockets:\n%s", got, log)
			}
			if strings.Contains(a.p.Output(), "harakiri") {
				t.Errorf("harakiri fired on a WebSocket:\n%s", a.p.Output())
			}

			// SIGTERM with a WebSocket open: the stack waits for it until
			// shutdown_timeout (3s), then closes it and exits.
			open := dial(base)
			if err := open.Write(ctx, websocket.MessageText, []byte("x")); err != nil {
				t.Fatal(err)
			}
			if _, _, err := open.Read(ctx); err != nil {
				t.Fatal(err)
			}
			stopped := time.Now()
			if code := a.p.stop(syscall.SIGTERM); code != 0 {
				t.Errorf("exit code %d after SIGTERM", code)
			}
			t.Logf("%s: exited %v after SIGTERM with a WebSocket open (shutdown_timeout 3s)", protocol, time.Since(stopped).Round(time.Millisecond))
			if _, _, err := open.Read(ctx); err == nil || ctx.Err() != nil {
				t.Errorf("the WebSocket outlived the stack: %v", err)
			}
		})
	}
}

// `stack check` names each websocket key that is wrong.
func TestEdgeWebSocketConfigIsChecked(t *testing.T) {
	cases := []struct{ ws, want string }{
		{"{idle_timeout: -1s}", "edge.locations[0].websocket.idle_timeout: must not be negative"},
		{"{max_lifetime: -2s}", "edge.locations[0].websocket.max_lifetime: must not be negative"},
		{"{idle: 1s}", "edge.locations[0].websocket.idle: unknown key (known keys: idle_timeout, max_lifetime)"},
		{"{idle_timeout: 30s, max_lifetime: 1h}", ""},
	}
	for _, c := range cases {
		dir := writeConfig(t, "appserver: {app: echo}\nedge:\n  locations:\n    - {path: /, upstream: app, websocket: "+c.ws+"}\n")
		stdout, stderr, code := run(t, dir, "check")
		if c.want == "" {
			if code != 0 {
				t.Errorf("websocket: %s: exit %d\n%s%s", c.ws, code, stdout, stderr)
			}
			continue
		}
		if code == 0 || !strings.Contains(stdout+stderr, c.want) {
			t.Errorf("websocket: %s: exit %d, want %q in\n%s%s", c.ws, code, c.want, stdout, stderr)
		}
	}
}
