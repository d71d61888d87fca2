package edge_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/edge"

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

// A client that goes away in the middle of a large response leaves no
// half-read kept upstream connection behind: the next requests get their
// own answers, buffered or not.
func TestBrkFwdClientGoneMidBodyKeepsUpstreamInStep(t *testing.T) {
	mux := http.NewServeMux()
	big := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(4<<20))
		chunk := []byte(strings.Repeat("b", 64<<10))
		for range 64 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
	stream := func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("s", 64<<10))
		for range 64 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}
	for _, loc := range []string{"/buf/", "/nobuf/"} {
		mux.HandleFunc(loc+"big", big)
		mux.HandleFunc(loc+"stream", stream)
	}
	mux.HandleFunc("/next/", echoHandler)
	cfg := proxyConfig("unix:" + startApp(t, mux))
	off := false
	cfg.Locations = append([]edge.LocationConfig{{Path: "/nobuf/", Upstream: "app", Buffering: &off}}, cfg.Locations...)
	base := startEdge(t, cfg)
	addr := strings.TrimPrefix(base, "http://")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	for _, path := range []string{"/buf/big", "/buf/stream", "/nobuf/big", "/nobuf/stream"} {
		for round := range 3 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
			buf := make([]byte, 1000*(round+1))
			io.ReadFull(c, buf)
			c.Close()
			next := fmt.Sprintf("/next%s/%d", path, round)
			resp, err := client.Get(base + next)
			if err != nil {
				t.Fatalf("after %s: %v", path, err)
			}
			if s := getSeen(t, resp); s.Path != next {
				t.Fatalf("after %s: asked %s, got the answer to %s", path, next, s.Path)
			}
		}
	}
}
