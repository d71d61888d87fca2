package edge_test

import (
	"strings"
	"testing"

	"github.com/stack-web/stack/edge"
)

// A Host of a shape no client sends is answered 400 (RFC 9112 3.2) over
// plain HTTP/1.1, over TLS and as an HTTP/2 :authority. "a.test:80:80"
// used to be routed to the default server (the last ':' was taken for the
// port's, so the name was "a.test:80") while the app got it as a.test's
// Host, and "[::1" (an unclosed IP literal) was routed as [::1].
func TestMalformedHostShapeIsRefused(t *testing.T) {
	cfg := edge.DefaultConfig()
	cfg.Locations = []edge.LocationConfig{{Path: "/", Root: siteDir(t, "D")}}
	cfg.Servers = []edge.ServerConfig{{Names: []string{"localhost", "::1"}, Locations: []edge.LocationConfig{{Path: "/", Root: siteDir(t, "A")}}}}
	te := startTLSEdge(t, cfg)
	for host, want := range map[string]int{
		"localhost": 200, "localhost:8000": 200, "[::1]:8000": 200,
		"localhost:80:80": 400, "[::1": 400, "[::1]x": 400, ":80": 400, "localhost:8x": 400,
	} {
		raw := "GET /f HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"
		if got, _ := rawRequest(t, "http://"+te.plain, raw); got != want {
			t.Errorf("Host %q over plain HTTP/1.1: %d, want %d", host, got, want)
		}
		if got := te.tlsExchange(t, "http/1.1", raw); !strings.HasPrefix(got, "HTTP/1.1 "+itoa(want)+" ") {
			t.Errorf("Host %q over TLS: %.40q, want %d", host, got, want)
		}
		if got := te.h2Status(t, host, "/f"); got != want {
			t.Errorf(":authority %q: %d, want %d", host, got, want)
		}
	}
}
