package edge_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stack-web/stack/edge"
)

// siteDir is a directory holding the file f, whose content is name.
func siteDir(t *testing.T, name string) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte(name), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Two servers and the implicit default one (edge.locations) on one port,
// each with its own root and body limit; a reload swaps them.
func TestVirtualHostsThroughTheEdge(t *testing.T) {
	dirA, dirB, dirD := siteDir(t, "A"), siteDir(t, "B"), siteDir(t, "D")
	cfg := proxyConfig("unix:" + startApp(t, http.HandlerFunc(echoHandler)))
	cfg.Locations = []edge.LocationConfig{{Path: "/", Root: dirD}, {Path: "/up/", Upstream: "app"}}
	limit := edge.ByteSize(16)
	cfg.Servers = []edge.ServerConfig{
		{Names: []string{"a.test"}, ClientMaxBodySize: &limit,
			Locations: []edge.LocationConfig{{Path: "/", Root: dirA}, {Path: "/up/", Upstream: "app"}}},
		{Names: []string{"b.test", "*.b.test"},
			Locations: []edge.LocationConfig{{Path: "/", Root: dirB}, {Path: "= /x/f", Root: dirA}}},
	}
	cfg.Listen = []string{"127.0.0.1:0"} // kept as configured by each reload
	e, base := runEdge(t, cfg)
	get := func(host, path string) (int, string) {
		t.Helper()
		raw := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"
		if host == "-" {
			raw = "GET " + path + " HTTP/1.0\r\n\r\n"
		}
		return rawRequest(t, base, raw)
	}
	check := func(when, host, path string, wantStatus int, wantBody string) {
		t.Helper()
		status, body := get(host, path)
		if status != wantStatus || (wantBody != "" && body != wantBody) {
			t.Errorf("%s: Host %q %s: %d %q, want %d %q", when, host, path, status, body, wantStatus, wantBody)
		}
	}
	port := base[strings.LastIndexByte(base, ':'):]
	check("start", "a.test", "/f", 200, "A")
	check("start", "A.Test."+port, "/f", 200, "A")
	check("start", "www.b.test", "/f", 200, "B")
	check("start", "b.test", "/x/f", 200, "A") // an exact location's root holds its file
	check("start", "b.test", "/x/g", 404, "")
	check("start", "elsewhere.test", "/f", 200, "D")
	check("start", "127.0.0.1"+port, "/f", 200, "D")
	check("start", "-", "/f", 200, "D") // HTTP/1.0 without Host: the default server
	// An empty label is refused, as nginx's "invalid host header": in the
	// Host header and in an absolute-form target alike (break-it 14).
	check("start", "a..test", "/f", 400, "")
	check("start", "..", "/f", 400, "")
	check("start", "a.test..", "/f", 400, "")
	if status, _ := rawRequest(t, base, "GET http://a..test/f HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"); status != 400 {
		t.Errorf("absolute-form target with host a..test: %d, want 400", status)
	}

	// The server's own client_max_body_size.
	body := strings.Repeat("x", 32)
	for host, want := range map[string]int{"a.test": 413, "elsewhere.test": 200} {
		status, _ := rawRequest(t, base, "POST /up/ HTTP/1.1\r\nHost: "+host+"\r\nContent-Length: 32\r\nConnection: close\r\n\r\n"+body)
		if status != want {
			t.Errorf("POST 32 bytes, Host %s: %d, want %d", host, status, want)
		}
	}

	// No default server: an unknown Host is misdirected.
	cfg.Locations = nil
	if err := e.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	check("no default", "a.test", "/f", 200, "A")
	check("no default", "elsewhere.test", "/f", 421, "421 Misdirected Request\n")
	check("no default", "-", "/f", 421, "")

	// A server that says default.
	cfg.Servers[1].Default = true
	if err := e.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	check("b default", "elsewhere.test", "/f", 200, "B")

	// Back to one site: every Host is served by edge.locations.
	cfg.Servers = nil
	cfg.Locations = []edge.LocationConfig{{Path: "/", Root: dirD}}
	if err := e.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	check("one site", "a.test", "/f", 200, "D")
}

// A location for one method or header, and the next-longest one for the
// rest, through the edge.
func TestLocationConditionsThroughTheEdge(t *testing.T) {
	dirA := siteDir(t, "A")
	cfg := proxyConfig("unix:" + startApp(t, http.HandlerFunc(echoHandler)))
	cfg.Locations = []edge.LocationConfig{
		{Path: "/", Upstream: "app"},
		{Path: "/s/", Root: dirA, Methods: []string{"GET"}},
		{Path: "= /s/f", Root: dirA, Header: &edge.HeaderMatch{Name: "X-Exact", Value: "1"}},
	}
	base := startEdge(t, cfg)
	status, body := rawRequest(t, base, "GET /s/f HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if status != 200 || body != "A" {
		t.Errorf("GET /s/f: %d %q, want the file", status, body)
	}
	status, body = rawRequest(t, base, "HEAD /s/f HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if status != 200 {
		t.Errorf("HEAD /s/f: %d, want 200 from the GET location", status)
	}
	status, body = rawRequest(t, base, "POST /s/f HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	if status != 200 || !strings.Contains(body, `"method":"POST"`) {
		t.Errorf("POST /s/f: %d %q, want the app", status, body)
	}
	status, body = rawRequest(t, base, "POST /s/f HTTP/1.1\r\nHost: x\r\nX-Exact: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	if status != 405 {
		t.Errorf("POST /s/f with X-Exact: %d %q, want 405 from the exact static location", status, body)
	}
}

// A server's locations are counted under its first name and their path;
// a misdirected request under "none".
func TestVirtualHostMetricsLabels(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := proxyConfig("unix:" + filepath.Join(t.TempDir(), "nobody.sock"))
	cfg.Locations = nil
	cfg.Servers = []edge.ServerConfig{{Names: []string{"a.test", "*.a.test"}, Locations: []edge.LocationConfig{
		{Path: "= /f", Root: siteDir(t, "A")}, {Path: "/", Upstream: "app"}}}}
	e, err := edge.New(cfg, t.TempDir(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Instrument(reg); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		host, path string
		status     int
	}{{"www.a.test", "/f", 200}, {"a.test", "/x", 502}, {"b.test", "/f", 421}} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", c.path, nil)
		r.Host = c.host
		e.ServeHTTP(w, r)
		if w.Code != c.status {
			t.Errorf("Host %s %s: %d, want %d", c.host, c.path, w.Code, c.status)
		}
	}
	for loc, class := range map[string]string{"a.test = /f": "2xx", "a.test /": "5xx", "none": "4xx"} {
		if got := metricValue(t, reg, "stack_edge_requests_total", map[string]string{"location": loc, "code": class}); got != 1 {
			t.Errorf("stack_edge_requests_total{location=%q,code=%q} = %v, want 1", loc, class, got)
		}
	}
}
