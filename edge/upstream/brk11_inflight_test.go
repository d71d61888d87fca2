package upstream

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Several servers, each capped at 1: while server 0 holds its slot (a
// slow response), the next requests go to server 1, which has room, rather
// than wait in server 0's queue (nginx Plus's max_conns skips a server at
// its limit; a request queues only when every server is at its cap).
// Found by running the edge with two app servers: round robin sent every
// other request behind a 2 s response while the second server was idle.
func TestInFlightPrefersAServerWithRoom(t *testing.T) {
	cfg := Default()
	cfg.MaxInFlight = 1
	cfg.ReadTimeout = 200 * time.Millisecond // the bound of a wrong wait
	cfg.Servers = []string{"unix:a.sock", "unix:b.sock"}
	u, err := New("app", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range u.servers {
		name := []string{"a", "b"}[i]
		s.rt = roundTripFunc(func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, ContentLength: 1, Header: http.Header{"X-Server": {name}}, Body: io.NopCloser(strings.NewReader(name))}, nil
		})
	}
	held, err := u.RoundTrip(httptest.NewRequest("GET", "/", nil)) // its body stays open: its slot is held
	if err != nil {
		t.Fatal(err)
	}
	busy := held.Header.Get("X-Server")
	for i := range 4 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := u.RoundTrip(httptest.NewRequest("GET", "/", nil).WithContext(ctx))
		cancel()
		if err != nil {
			t.Fatalf("request %d, server %s busy: %v", i, busy, err)
		}
		if got := resp.Header.Get("X-Server"); got == busy {
			t.Errorf("request %d went to server %s, which is at its cap, with the other free", i, got)
		}
		resp.Body.Close()
	}
	held.Body.Close()
	// Every server at its cap: the request waits in one's queue, and gets
	// the slot the first response gives back.
	a, _ := u.RoundTrip(httptest.NewRequest("GET", "/", nil))
	b, _ := u.RoundTrip(httptest.NewRequest("GET", "/", nil))
	if a == nil || b == nil || a.Header.Get("X-Server") == b.Header.Get("X-Server") {
		t.Fatalf("two requests, two free servers: %v %v", a, b)
	}
	time.AfterFunc(20*time.Millisecond, func() { a.Body.Close(); b.Body.Close() })
	c, err := u.RoundTrip(httptest.NewRequest("GET", "/", nil))
	if err != nil {
		t.Fatalf("both servers at their cap, then freed: %v", err)
	}
	c.Body.Close()
}
