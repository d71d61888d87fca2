package edge_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// Upgrades the edge must not pass on, whatever the app would do with
// them: h2c (through a proxy that passes it, the client speaks HTTP/2
// straight to the app, past every location and limit of the edge: h2c
// smuggling), and any Upgrade on HTTP/1.0, which RFC 9110 §7.8 says a
// server must ignore. They are served as plain requests.
func TestBrkWSRefusedUpgradesArePlainRequests(t *testing.T) {
	cases := map[string]string{
		"h2c": "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n" +
			"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
		"h2c among others": "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: foo/1, H2C\r\n\r\n",
		"HTTP/2.0":         "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: HTTP/2.0\r\n\r\n",
		"websocket on HTTP/1.0": "GET / HTTP/1.0\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
	}
	for proto, cfg := range wsUpstreams(t, http.HandlerFunc(echoHandler)) {
		base := startEdge(t, cfg)
		for name, raw := range cases {
			t.Run(proto+" "+name, func(t *testing.T) {
				code, body := rawRequest(t, base, raw)
				if code != http.StatusOK {
					t.Fatalf("status %d %q, want 200 from the app", code, body)
				}
				var s seen
				if err := json.Unmarshal([]byte(body), &s); err != nil {
					t.Fatalf("%v: %q", err, body)
				}
				h := http.Header(s.Header)
				if h.Get("Upgrade") != "" || h.Get("Connection") != "" || h.Get("Http2-Settings") != "" {
					t.Errorf("the app saw Upgrade %q, Connection %q, HTTP2-Settings %q", h.Get("Upgrade"), h.Get("Connection"), h.Get("Http2-Settings"))
				}
			})
		}
	}
}
