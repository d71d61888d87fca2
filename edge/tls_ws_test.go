package edge_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/stack-web/stack/examples/echo"
)

// A WebSocket over TLS (wss://) reaches the app over uwsgi: the switch
// takes the HTTP/1.1 path (a framing tracker over the *tls.Conn), which
// the hijack and the copy both ways go through.
func TestTLSWebSocketEcho(t *testing.T) {
	te := startTLSEdge(t, uwsgiConfig(startApp(t, echo.New())))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: te.pool, ServerName: "localhost"}}}
	c, resp, err := websocket.Dial(ctx, "wss://"+te.secure+"/ws", &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, msg := range []string{"hello", "over", "tls"} {
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, got, err := c.Read(ctx); err != nil || string(got) != msg {
			t.Fatalf("sent %q, got %q (%v)", msg, got, err)
		}
	}
	if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("close: %v", err)
	}
	waitFor(t, "closed at the edge", func() bool { return te.e.OpenConnections() == 0 })
}
