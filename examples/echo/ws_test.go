package echo

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// /ws echoes each message as it came (type and bytes), up to MaxMessage;
// a longer one is closed with 1009, and ?close_after=N closes with 1000.
func TestWebSocketEcho(t *testing.T) {
	srv := httptest.NewServer(New())
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(2 * MaxMessage)
	for _, m := range []struct {
		typ  websocket.MessageType
		data []byte
	}{{websocket.MessageText, []byte("hello")}, {websocket.MessageBinary, bytes.Repeat([]byte{0, 1, 2}, MaxMessage/3)}} {
		if err := c.Write(ctx, m.typ, m.data); err != nil {
			t.Fatal(err)
		}
		typ, got, err := c.Read(ctx)
		if err != nil || typ != m.typ || !bytes.Equal(got, m.data) {
			t.Fatalf("echo of %d bytes (%v): %d bytes (%v), %v", len(m.data), m.typ, len(got), typ, err)
		}
	}
	c.Write(ctx, websocket.MessageBinary, make([]byte, MaxMessage+1))
	if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Errorf("a message over MaxMessage: %v, want close 1009", err)
	}

	s, _, err := websocket.Dial(ctx, url+"?close_after=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.CloseNow()
	s.Write(ctx, websocket.MessageText, []byte("one"))
	if _, _, err := s.Read(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Read(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("after close_after: %v, want close 1000", err)
	}

	resp, err := http.Get(srv.URL + "/ws?close_after=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("close_after=x: %d, want 400", resp.StatusCode)
	}
	resp, err = http.Get(srv.URL + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("a plain GET /ws: %d, want 426", resp.StatusCode)
	}
}
