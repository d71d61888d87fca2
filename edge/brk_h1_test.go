package edge_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/edge"
)

// Break-it tests of the edge's plain HTTP/1.1 front (edge/internal/h1),
// each a defect found by running the binary against raw sockets.

// brkH1Conn opens a raw connection to the edge at base.
func brkH1Conn(t *testing.T, base string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

// brkH1Static is an edge serving a one-file static root at /s/.
func brkH1Static(t *testing.T, change func(*edge.Config)) string {
	t.Helper()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "f.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := edge.DefaultConfig()
	cfg.Locations = []edge.LocationConfig{{Path: "/s/", Root: root}}
	if change != nil {
		change(&cfg)
	}
	return startEdge(t, cfg)
}

// A browser revalidates on its kept-alive connection: the edge's
// send_timeout deadline, set for the first response, had passed by then,
// and a 304 (or HEAD, or 204) writes no body that would renew it, so the
// answer was lost and the connection closed without a byte.
func TestBrkH1RevalidationAfterSendTimeout(t *testing.T) {
	base := brkH1Static(t, func(c *edge.Config) { c.SendTimeout = 200 * time.Millisecond })
	c, br := brkH1Conn(t, base)
	io.WriteString(c, "GET /s/f.txt HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	etag := resp.Header.Get("Etag")
	time.Sleep(500 * time.Millisecond) // idle, well within keepalive_timeout
	for _, req := range []string{
		"GET /s/f.txt HTTP/1.1\r\nHost: a\r\nIf-None-Match: " + etag + "\r\n\r\n",
		"HEAD /s/f.txt HTTP/1.1\r\nHost: a\r\n\r\n",
	} {
		io.WriteString(c, req)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%.30q after an idle pause longer than send_timeout: no answer: %v", req, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified && resp.StatusCode != http.StatusOK {
			t.Fatalf("%.30q: status %d", req, resp.StatusCode)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// A method that is not upper-case letters, '_' and '-' gets 400, as from
// nginx ("client sent invalid method"), over plain HTTP/1.1: both Go
// parsers take any token, and "get" reached the app, where a framework
// that folds case would serve it as GET.
func TestBrkH1MethodNotUpperCaseIsRefused(t *testing.T) {
	base := brkH1Static(t, nil)
	for _, m := range []string{"get", "Get", "GET1", "G.ET", "PRO!PFIND"} {
		c, br := brkH1Conn(t, base)
		io.WriteString(c, m+" /s/f.txt HTTP/1.1\r\nHost: a\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("method %q: got %d, want 400", m, resp.StatusCode)
		}
	}
	for m, want := range map[string]int{"GET": 200, "M-SEARCH": 405, "X_CUSTOM": 405} {
		c, br := brkH1Conn(t, base)
		io.WriteString(c, m+" /s/f.txt HTTP/1.1\r\nHost: a\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("method %q: got %d, want %d", m, resp.StatusCode, want)
		}
	}
}
