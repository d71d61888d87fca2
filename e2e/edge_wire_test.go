package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// edgeWireConfig runs the echo app with an access log and a 1 MiB body limit.
const edgeWireConfig = `
run_dir: run
shutdown_timeout: 5s
edge:
  listen: ["127.0.0.1:0"]
  client_max_body_size: 1MiB
  access_log: access.log
  locations:
    - {path: /, upstream: app}
  upstreams:
    app: {servers: ["unix:run/app.sock"]}
appserver:
  listen: unix:run/app.sock
  app: echo
`

// edgeWireDial opens a raw connection to the stack at url.
func edgeWireDial(t *testing.T, url string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

// edgeWireStatus sends raw and returns the answer's status code.
func edgeWireStatus(t *testing.T, url, raw string) int {
	t.Helper()
	c := edgeWireDial(t, url)
	io.WriteString(c, raw)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer to %.60q: %v", raw, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// edgeWireWaitLog polls the access log until it holds sub.
func edgeWireWaitLog(t *testing.T, path, sub string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), sub) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("access log lacks %q:\n%.3000s", sub, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The wire-level refusals of the real binary: a client that writes a 2 MiB
// body whole before reading (with Content-Length, no Expect) reads its 413;
// a 20 KiB URI is 414; a head over max_header_size is 431, including one
// net/http refuses itself; each is in the access log.
func TestEdgeWireRefusalsAreReadAndLogged(t *testing.T) {
	dir := writeConfig(t, edgeWireConfig)
	p := start(t, dir, "up")
	url := p.url()
	accessLog := filepath.Join(dir, "access.log")

	c := edgeWireDial(t, url)
	io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 2097152\r\n\r\n")
	chunk := make([]byte, 64<<10)
	for off := 0; off < 2<<20; off += len(chunk) {
		// At a network's pace: net/http alone resets a client still
		// sending 500 ms after its answer.
		if _, err := c.Write(chunk); err != nil {
			t.Fatalf("writing the body at %d: %v", off, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the 413 after writing the whole body: %v", err)
	}
	if resp.StatusCode != 413 {
		t.Errorf("status %d, want 413", resp.StatusCode)
	}

	if code := edgeWireStatus(t, url, "GET /?"+strings.Repeat("u", 20<<10)+" HTTP/1.1\r\nHost: a\r\n\r\n"); code != 414 {
		t.Errorf("20 KiB URI: status %d, want 414", code)
	}
	if code := edgeWireStatus(t, url, "GET /h HTTP/1.1\r\nHost: a\r\nX-Big: "+strings.Repeat("b", 33<<10)+"\r\n\r\n"); code != 431 {
		t.Errorf("33 KiB header: status %d, want 431", code)
	}
	if code := edgeWireStatus(t, url, "GET /huge HTTP/1.1\r\nHost: a\r\nX-Big: "+strings.Repeat("b", 200<<10)+"\r\n\r\n"); code != 431 {
		t.Errorf("200 KiB header: status %d, want 431", code)
	}
	log := edgeWireWaitLog(t, accessLog, `"GET /huge HTTP/1.1" 431 `)
	for _, want := range []string{`"POST /upload HTTP/1.1" 413 `, ` 414 `, `"GET /h HTTP/1.1" 431 `} {
		if !strings.Contains(log, want) {
			t.Errorf("access log lacks %q:\n%.3000s", want, log)
		}
	}
}

// What the app sees of an absolute-form target and a TE header, and the
// access log of a client that leaves before the answer.
func TestEdgeWireOriginFormTEAnd499(t *testing.T) {
	dir := writeConfig(t, edgeWireConfig)
	p := start(t, dir, "up")
	url := p.url()
	accessLog := filepath.Join(dir, "access.log")

	c := edgeWireDial(t, url)
	io.WriteString(c, "GET http://user:secret@example.com:8080/foo?q=1 HTTP/1.1\r\nHost: other\r\nTE: trailers\r\nConnection: TE\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	var seen struct {
		RawPath string              `json:"raw_path"`
		Path    string              `json:"path"`
		Host    string              `json:"host"`
		Header  map[string][]string `json:"header"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&seen); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if seen.RawPath != "/foo" || seen.Path != "/foo" || seen.Host != "example.com:8080" {
		t.Errorf("app saw raw_path %q path %q host %q; want /foo, /foo, example.com:8080", seen.RawPath, seen.Path, seen.Host)
	}
	if _, ok := seen.Header["Te"]; ok {
		t.Errorf("TE reached the app: %v", seen.Header)
	}

	c = edgeWireDial(t, url)
	io.WriteString(c, "GET /delay/3 HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(300 * time.Millisecond)
	c.Close()
	log := edgeWireWaitLog(t, accessLog, `"GET /delay/3 HTTP/1.1" `)
	if !strings.Contains(log, `"GET /delay/3 HTTP/1.1" 499 `) {
		t.Errorf("a client that left is not logged 499:\n%s", log)
	}
	if strings.Contains(log, "secret") || !strings.Contains(log, `"GET http://example.com:8080/foo?q=1 HTTP/1.1" 200 `) {
		t.Errorf("access log does not show the absolute-form target without credentials:\n%s", log)
	}
	if out := p.Output(); strings.Contains(out, "level=ERROR") {
		t.Errorf("a client abort was logged as an error:\n%s", out)
	}
}

// A pause in the upstream's body longer than read_timeout, once the head
// has gone out, reaches the client as an aborted response (no last chunk),
// and the log says which timeout fired on which server (issue 17 item 4).
func TestEdgeWireReadTimeoutMidBodyAbortsTheClient(t *testing.T) {
	cfg := strings.Replace(edgeWireConfig, `app: {servers: ["unix:run/app.sock"]}`,
		`app: {servers: ["unix:run/app.sock"], read_timeout: 1s}`, 1)
	dir := writeConfig(t, cfg)
	p := start(t, dir, "up")
	c := edgeWireDial(t, p.url())
	io.WriteString(c, "GET /stream/3?interval=3 HTTP/1.1\r\nHost: a\r\n\r\n")
	got, err := io.ReadAll(c) // until the edge closes (or resets)
	if err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("reading: %v (got %q)", err, got)
	}
	s := string(got)
	if !strings.HasPrefix(s, "HTTP/1.1 200 ") || strings.Count(s, `"path":"/stream/3"`) != 1 {
		t.Fatalf("want the head and the first line; got %q", s)
	}
	if strings.HasSuffix(s, "0\r\n\r\n") {
		t.Errorf("the client got a complete response for one cut by read_timeout: %q", s)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.Output(), "read_timeout (1s) fired while reading response body from run/app.sock") {
		if time.Now().After(deadline) {
			t.Fatalf("the log does not say which timeout fired on which server:\n%s", p.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
