package edge_test

import (
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/uwsgi"
)

// The edge↔appserver contract: every uwsgi request carries
// STACK_RESPONSE_FRAMING=chunked and STACK_REQUEST_START in microseconds.
func TestUwsgiRequestCarriesContractVars(t *testing.T) {
	up := startFakeUpstream(t, func(c net.Conn, _ uwsgi.Vars) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	base, _ := startEdgeLogged(t, uwsgiConfig(up.sock))
	before := time.Now().UnixMicro()
	resp := mustGet(t, base+"/")
	resp.Body.Close()
	after := time.Now().UnixMicro()
	vars := up.lastVars()
	if got := vars.Value("STACK_RESPONSE_FRAMING"); got != "chunked" {
		t.Errorf("STACK_RESPONSE_FRAMING = %q, want chunked", got)
	}
	start, err := strconv.ParseInt(vars.Value("STACK_REQUEST_START"), 10, 64)
	if err != nil || start < before || start > after {
		t.Errorf("STACK_REQUEST_START = %q, want µs between %d and %d", vars.Value("STACK_REQUEST_START"), before, after)
	}
}

// An upstream body that ends early must reach the client as a broken
// response: the connection closes with no last chunk (or short of its
// Content-Length), never as a complete one, and the log says why, naming
// the server.
func TestTruncatedUpstreamResponseAbortsClient(t *testing.T) {
	get := "GET /x HTTP/1.1\r\nHost: a\r\n\r\n"
	t.Run("chunked without the last chunk", func(t *testing.T) {
		up := startFakeUpstream(t, func(c net.Conn, _ uwsgi.Vars) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nline1\n\r\n6\r\nline2\n\r\n")
		})
		base, log := startEdgeLogged(t, uwsgiConfig(up.sock))
		got, ended := rawExchange(t, base, get, 5*time.Second)
		if !ended {
			t.Fatalf("the edge kept the connection open after the upstream died: %q", got)
		}
		if !strings.Contains(got, "line2") {
			t.Errorf("the body sent before the failure is missing: %q", got)
		}
		if strings.HasSuffix(got, "0\r\n\r\n") {
			t.Errorf("the client got a complete chunked response for a truncated one: %q", got)
		}
		log.waitFor(t, "upstream prematurely closed connection", up.sock)
	})
	t.Run("short of Content-Length", func(t *testing.T) {
		up := startFakeUpstream(t, func(c net.Conn, _ uwsgi.Vars) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello")
		})
		base, log := startEdgeLogged(t, uwsgiConfig(up.sock))
		got, ended := rawExchange(t, base, get, 5*time.Second)
		if !ended {
			t.Fatalf("the edge kept the connection open after the upstream died: %q", got)
		}
		// The head may not have left the edge's buffer yet: an empty reply
		// is as broken as a short one. A complete one is the failure.
		if got != "" {
			resp := rawResponse(t, got)
			body, err := io.ReadAll(resp.Body)
			if err == nil || resp.ContentLength != 100 {
				t.Errorf("want fewer than 100 bytes and an unexpected EOF; got %d of %d, err %v", len(body), resp.ContentLength, err)
			}
		}
		log.waitFor(t, "upstream prematurely closed connection", up.sock)
	})
	t.Run("a complete chunked response passes", func(t *testing.T) {
		up := startFakeUpstream(t, func(c net.Conn, _ uwsgi.Vars) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
		})
		base, _ := startEdgeLogged(t, uwsgiConfig(up.sock))
		resp := mustGet(t, base+"/x")
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != "hello" {
			t.Errorf("body %q, err %v; want hello", body, err)
		}
	})
	t.Run("a pause past read_timeout", func(t *testing.T) {
		up := startFakeUpstream(t, func(c net.Conn, _ uwsgi.Vars) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nline1\n\r\n")
			io.Copy(io.Discard, c) // until the edge gives up and closes
		})
		cfg := uwsgiConfig(up.sock)
		u := cfg.Upstreams["app"]
		u.ReadTimeout = 300 * time.Millisecond
		cfg.Upstreams["app"] = u
		base, log := startEdgeLogged(t, cfg)
		got, ended := rawExchange(t, base, get, 5*time.Second)
		if !ended {
			t.Fatalf("the edge kept the connection open after read_timeout: %q", got)
		}
		if !strings.Contains(got, "line1") || strings.HasSuffix(got, "0\r\n\r\n") {
			t.Errorf("want line1 and no last chunk: %q", got)
		}
		log.waitFor(t, "read_timeout (300ms) fired", up.sock)
	})
}

// Interim 1xx responses are skipped; the final response reaches the client.
func TestInterimResponsesAreSkipped(t *testing.T) {
	for _, interim := range []string{
		"HTTP/1.1 100 Continue\r\n\r\n",
		"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n",
		"Status: 100 Continue\r\n\r\n",
	} {
		up := startFakeUpstream(t, func(c net.Conn, _ uwsgi.Vars) {
			io.WriteString(c, interim+"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nhello")
		})
		base, _ := startEdgeLogged(t, uwsgiConfig(up.sock))
		resp := mustGet(t, base+"/")
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 404 || string(body) != "hello" {
			t.Errorf("after %q: got %d %q, want the final 404 hello", interim, resp.StatusCode, body)
		}
	}
}

// A header value with NUL or CR is refused with 502, as nginx does
// ("upstream sent invalid header"), and logged.
func TestUpstreamHeaderWithNULIs502(t *testing.T) {
	for _, bad := range []string{"X-A: a\x00b\r\n", "X-A: a\rSet-Cookie: x=1\r\n"} {
		up := startFakeUpstream(t, func(c net.Conn, _ uwsgi.Vars) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\n"+bad+"Content-Length: 2\r\n\r\nok")
		})
		base, log := startEdgeLogged(t, uwsgiConfig(up.sock))
		resp := mustGet(t, base+"/")
		resp.Body.Close()
		if resp.StatusCode != 502 {
			t.Errorf("header %q: status %d, want 502", bad, resp.StatusCode)
		}
		log.waitFor(t, "upstream sent invalid header", up.sock)
	}
}
