package edge_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/edge"
)

// An absolute-form target names the server, not the Host header (RFC 9112
// 3.2.2); one with an empty authority ("http:///f") used to choose the
// default server (or 421) by that empty name, whatever the Host said. It
// is invalid (RFC 9110 4.2.1): 400.
func TestAbsoluteFormAuthorityChoosesTheServer(t *testing.T) {
	dirA, dirB := siteDir(t, "A"), siteDir(t, "B")
	cfg := proxyConfig("unix:" + startApp(t, http.HandlerFunc(echoHandler)))
	cfg.Locations = nil
	cfg.Servers = []edge.ServerConfig{
		{Names: []string{"a.test"}, Default: true, Locations: []edge.LocationConfig{{Path: "/", Root: dirA}}},
		{Names: []string{"b.test"}, Locations: []edge.LocationConfig{{Path: "/", Root: dirB}}},
	}
	_, base := runEdge(t, cfg)
	for _, c := range []struct {
		target, host string
		status       int
		body         string
	}{
		{"/f", "b.test", 200, "B"},
		{"http://b.test/f", "a.test", 200, "B"},
		{"HTTP://B.TEST:80/f", "a.test", 200, "B"},
		{"http://a.test/f", "b.test", 200, "A"},
		{"http:///f", "b.test", 400, ""},
		{"http://:80/f", "b.test", 400, ""},
		{"http:/f", "b.test", 400, ""},
	} {
		status, body := rawRequest(t, base, "GET "+c.target+" HTTP/1.1\r\nHost: "+c.host+"\r\nConnection: close\r\n\r\n")
		if status != c.status || (c.body != "" && body != c.body) {
			t.Errorf("GET %s, Host %s: %d %q, want %d %q", c.target, c.host, status, body, c.status, c.body)
		}
	}
}

// A request's path is matched once its repeated slashes are merged and its
// . segments resolved, so a location written otherwise matched nothing,
// and the requests it was meant for went to the next one (a static root's
// files to the app, say). Validate refuses it.
func TestLocationPathThatNeverMatchesIsRefused(t *testing.T) {
	for path, want := range map[string]string{
		"/static//":     `"/static//" never matches`,
		"//x":           `write "/x"`,
		"/a/./b":        `write "/a/b"`,
		"= /x/.":        `"= /x/." never matches`,
		"/a/b/":         "",
		"= /robots.txt": "",
		"/.well-known/": "",
	} {
		cfg := vhostConfig(edge.ServerConfig{Names: []string{"a.test"}, Locations: []edge.LocationConfig{{Path: path, Upstream: "app"}}})
		err := cfg.Validate()
		switch {
		case want == "" && err != nil:
			t.Errorf("path %q: %v", path, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), "edge.servers[0].locations[0].path: ") || !strings.Contains(err.Error(), want)):
			t.Errorf("path %q: %v, want an error naming edge.servers[0].locations[0].path with %q", path, err, want)
		}
	}
}

// An answer sent before a chunked request body was read (a 421 for a Host
// no server names, a 405 from a static location) is followed by a lingering
// close. It went out without "Connection: close", so a keep-alive client
// sent its next request on a connection the edge was closing: the request
// was read as leftover body and dropped, and the client saw EOF. Either the
// answer says close, or the connection serves the next request.
func TestEarlyAnswerToChunkedBodySaysClose(t *testing.T) {
	cfg := proxyConfig("unix:" + startApp(t, http.HandlerFunc(echoHandler)))
	cfg.Locations = nil
	cfg.Servers = []edge.ServerConfig{{Names: []string{"a.test"}, Locations: []edge.LocationConfig{{Path: "/", Root: siteDir(t, "A")}}}}
	_, base := runEdge(t, cfg)
	for _, c := range []struct {
		host, framing, body string
		status              int
	}{
		{"elsewhere.test", "Transfer-Encoding: chunked", "5\r\nhello\r\n0\r\n\r\n", 421},
		{"a.test", "Transfer-Encoding: chunked", "5\r\nhello\r\n0\r\n\r\n", 405},
		{"elsewhere.test", "Content-Length: 5", "hello", 421},
	} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(conn)
		io.WriteString(conn, "POST /f HTTP/1.1\r\nHost: "+c.host+"\r\n"+c.framing+"\r\n\r\n"+c.body)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s, Host %s: %v", c.framing, c.host, err)
		}
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != c.status {
			t.Errorf("%s, Host %s: %d, want %d", c.framing, c.host, resp.StatusCode, c.status)
		}
		if !resp.Close {
			io.WriteString(conn, "GET /f HTTP/1.1\r\nHost: a.test\r\n\r\n")
			if next, err := http.ReadResponse(br, nil); err != nil {
				t.Errorf("%s, Host %s: %d without Connection: close, then the next request on the connection: %v", c.framing, c.host, c.status, err)
			} else if next.StatusCode != 200 {
				t.Errorf("%s, Host %s: the next request: %d", c.framing, c.host, next.StatusCode)
			}
		}
		conn.Close()
	}
}

// The edge replaces X-Forwarded-For/-Proto/-Host unless the client is a
// trusted proxy, so that no client can pose as having come over HTTPS or
// from another address. A location's header condition on one of them was
// met by whatever the client claimed: a direct client sending
// X-Forwarded-Proto: https reached the location meant for HTTPS traffic
// (while the app, behind it, saw "http"). The condition now sees what the
// app sees: the claim of a trusted proxy, else the edge's own value.
func TestForwardedHeaderConditionsTrustOnlyTrustedProxies(t *testing.T) {
	dirS, dirP := siteDir(t, "S"), siteDir(t, "P")
	for _, c := range []struct {
		trusted     []string
		name, value string
		sent        string // the client's header line, "" none
		want        string
	}{
		{nil, "X-Forwarded-Proto", "https", "X-Forwarded-Proto: https", "P"},
		{nil, "X-Forwarded-Proto", "http", "X-Forwarded-Proto: https", "S"}, // the edge's own value
		{nil, "X-Forwarded-Proto", "http", "", "S"},
		{[]string{"127.0.0.1"}, "X-Forwarded-Proto", "https", "X-Forwarded-Proto: https", "S"},
		{[]string{"127.0.0.1"}, "X-Forwarded-Proto", "https", "", "P"},
		{nil, "X-Forwarded-Host", "admin.test", "X-Forwarded-Host: admin.test", "P"},
		{nil, "X-Forwarded-Host", "a.test", "X-Forwarded-Host: admin.test", "S"}, // the Host, as the app gets it
		{[]string{"127.0.0.0/8"}, "X-Forwarded-Host", "admin.test", "X-Forwarded-Host: admin.test", "S"},
		{nil, "X-Forwarded-For", "10.0.0.1", "X-Forwarded-For: 10.0.0.1", "P"},
		{nil, "X-Forwarded-For", "", "", "S"}, // always sent to the app
		{[]string{"127.0.0.1"}, "X-Forwarded-For", "10.0.0.1", "X-Forwarded-For: 10.0.0.1", "S"},
	} {
		cfg := proxyConfig("unix:/nonexistent.sock")
		cfg.TrustedProxies = c.trusted
		cfg.Locations = []edge.LocationConfig{{Path: "/", Root: dirS, Header: &edge.HeaderMatch{Name: c.name, Value: c.value}}, {Path: "/", Root: dirP}}
		_, base := runEdge(t, cfg)
		head := "GET /f HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n"
		if c.sent != "" {
			head += c.sent + "\r\n"
		}
		if _, body := rawRequest(t, base, head+"\r\n"); body != c.want {
			t.Errorf("trusted %v, condition %s: %q, sent %q: served by %s, want %s", c.trusted, c.name, c.value, c.sent, body, c.want)
		}
	}
}
