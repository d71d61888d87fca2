package edge_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/edge/upstream"
	"github.com/stack-web/stack/examples/echo"
)

// wsEdge runs an edge with cfg and returns it with its ws:// base.
func wsEdge(t *testing.T, cfg edge.Config) (*edge.Edge, string) {
	t.Helper()
	cfg.Listen = []string{"127.0.0.1:0"}
	e, err := edge.New(cfg, t.TempDir(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Shutdown(ctx)
		<-done
	})
	return e, "ws://" + e.Addrs()[0].String()
}

// wsUpstreams are the two ways to a WebSocket app: the appserver over
// uwsgi, and an HTTP server (protocol: http).
func wsUpstreams(t *testing.T, h http.Handler) map[string]edge.Config {
	sock := startApp(t, h)
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	overHTTP := proxyConfig(strings.TrimPrefix(hs.URL, "http://"))
	up := overHTTP.Upstreams["app"]
	up.Protocol = "http"
	overHTTP.Upstreams = map[string]upstream.Config{"app": up}
	return map[string]edge.Config{"uwsgi": proxyConfig("unix:" + sock), "http": overHTTP}
}

// waitFor polls cond for up to 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("still not %s after 5s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWebSocketEchoThroughEdge(t *testing.T) {
	for name, cfg := range wsUpstreams(t, echo.New()) {
		t.Run(name, func(t *testing.T) {
			logPath := filepath.Join(t.TempDir(), "access.log")
			cfg.AccessLog = logPath
			e, base := wsEdge(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, resp, err := websocket.Dial(ctx, base+"/ws", nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("status %d", resp.StatusCode)
			}
			c.SetReadLimit(2 << 20)
			big := make([]byte, 1<<20)
			rand.Read(big)
			for i, msg := range [][]byte{[]byte("hello"), big, []byte("after")} {
				if err := c.Write(ctx, websocket.MessageBinary, msg); err != nil {
					t.Fatalf("write %d: %v", i, err)
				}
				_, got, err := c.Read(ctx)
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("message %d: %d bytes back, err %v", i, len(got), err)
				}
			}
			if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
				t.Fatalf("close: %v", err)
			}
			waitFor(t, "closed at the edge", func() bool { return e.OpenConnections() == 0 })
			waitFor(t, "logged", func() bool {
				b, _ := os.ReadFile(logPath)
				return bytes.Contains(b, []byte(`"GET /ws HTTP/1.1" 101 `))
			})
		})
	}
}
