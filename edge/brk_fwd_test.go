package edge_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stack-web/stack/edge/upstream"
)

// brkFwdHTTPEdge runs an edge whose one location proxies to an http
// upstream that answers every request with resp, and returns its address.
func brkFwdHTTPEdge(t *testing.T, resp string) string {
	t.Helper()
	cfg := proxyConfig(rawUpstream(t, resp))
	up := cfg.Upstreams["app"]
	up.Protocol = "http"
	cfg.Upstreams = map[string]upstream.Config{"app": up}
	return strings.TrimPrefix(startEdge(t, cfg), "http://")
}

// brkFwdGet sends one GET on a fresh plain HTTP/1.1 connection and reads
// the response whole (trailers included).
func brkFwdGet(t *testing.T, addr, path string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", path, err)
	}
	return resp, string(b)
}

// The upstream's trailer reaches the client: the edge announced
// "Trailer: X-T" but the plain HTTP/1.1 front ended the chunks with an
// empty trailer section, so the value (a checksum, a gRPC status) was lost.
func TestBrkFwdTrailersReachTheClient(t *testing.T) {
	addr := brkFwdHTTPEdge(t, "HTTP/1.1 200 OK\r\nTrailer: X-T\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"2\r\nhi\r\n0\r\nX-T: 1\r\nX-Undeclared: u\r\n\r\n")
	resp, body := brkFwdGet(t, addr, "/")
	if body != "hi" {
		t.Fatalf("body %q, want hi", body)
	}
	if got := resp.Trailer.Get("X-T"); got != "1" {
		t.Errorf("trailer X-T = %q, want 1 (trailer %v, header %v)", got, resp.Trailer, resp.Header)
	}
	if got := resp.Trailer.Get("X-Undeclared"); got != "u" {
		t.Errorf("trailer X-Undeclared = %q, want u (ReverseProxy passes an undeclared trailer too)", got)
	}
}
