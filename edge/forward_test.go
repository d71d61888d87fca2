package edge_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// The forwarder edits the client's header in place rather than cloning it
// (forward.go): what the app sees must still be the policy. Hop-by-hop
// fields, those the client's Connection names, Proxy, Expect, Forwarded,
// the client's X-Forwarded-* and '_' names never reach it; the edge's
// X-Request-Id does, even when Connection names it; end-to-end fields
// arrive whole.
func TestForwardedHeaderPolicy(t *testing.T) {
	base := startEdge(t, proxyConfig("unix:"+startApp(t, http.HandlerFunc(echoHandler))))
	head := "GET /h HTTP/1.1\r\nHost: a\r\n" +
		"Connection: keep-alive, X-Secret, x-request-id, close\r\n" +
		"X-Secret: listed\r\nKeep-Alive: 5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\n" +
		"Proxy: http://evil\r\nForwarded: for=1.2.3.4\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Host: evil\r\n" +
		"X_Forwarded_For: 5.6.7.8\r\nX-Request-Id: chosen-by-client\r\n" +
		"Accept: text/html\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n"
	code, body := rawRequest(t, base, head)
	var s seen
	if err := json.Unmarshal([]byte(body), &s); code != 200 || err != nil {
		t.Fatalf("status %d, %v: %s", code, err, body)
	}
	for _, name := range []string{"Connection", "X-Secret", "Keep-Alive", "Proxy-Connection", "Te", "Proxy", "Forwarded", "X_forwarded_for"} {
		if v, ok := s.Header[name]; ok {
			t.Errorf("the app saw %s: %q", name, v)
		}
	}
	if got := s.Header["X-Forwarded-For"]; len(got) != 1 || got[0] != "127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want the edge's peer alone", got)
	}
	if got := s.Header["X-Forwarded-Host"]; len(got) != 1 || got[0] != "a" {
		t.Errorf("X-Forwarded-Host = %q, want the request's Host", got)
	}
	if id := s.Header["X-Request-Id"]; len(id) != 1 || len(id[0]) != 32 || id[0] == "chosen-by-client" {
		t.Errorf("X-Request-Id = %q, want the edge's own id (32 hex digits)", id)
	}
	if got := strings.Join(s.Header["Accept"], ","); got != "text/html" {
		t.Errorf("Accept = %q", got)
	}
	if got := strings.Join(s.Header["Cookie"], "; "); !strings.Contains(got, "a=1") || !strings.Contains(got, "b=2") {
		t.Errorf("Cookie = %q, want both", got)
	}
}

// The upstream's hop-by-hop fields, those its Connection names, and its
// X-Accel-* instructions stay at the edge; its other fields, repeated
// ones too, reach the client.
func TestForwardedResponseHeader(t *testing.T) {
	// Canned: the appserver would not pass its handler's Connection on.
	sock := startCanned(t, "HTTP/1.1 200 OK\r\nConnection: X-Internal\r\nX-Internal: secret\r\nKeep-Alive: timeout=5\r\n"+
		"X-Accel-Expires: 60\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
	base := startEdge(t, proxyConfig("unix:"+sock))
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, name := range []string{"X-Internal", "Keep-Alive", "X-Accel-Expires"} {
		if v, ok := resp.Header[name]; ok {
			t.Errorf("the client got %s: %q", name, v)
		}
	}
	if got := resp.Header["Set-Cookie"]; len(got) != 2 {
		t.Errorf("Set-Cookie = %q, want both", got)
	}
}
