package edge_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/edge"
)

// accelApp answers /download/<rest> with X-Accel-Redirect: <rest as given
// in the query's "to", or /protected/<rest>>, a body the client must never
// see, and the headers the test asks for in the query.
func accelApp(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/download/"):
		to := r.URL.Query().Get("to")
		if to == "" {
			to = "/protected/" + strings.TrimPrefix(r.URL.Path, "/download/")
		}
		w.Header().Set("X-Accel-Redirect", to)
		// No type unless asked (net/http would sniff one from the body,
		// and the app's type wins, as in nginx).
		w.Header()["Content-Type"] = nil
		if ct := r.URL.Query().Get("type"); ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		w.Header().Set("Content-Disposition", `attachment; filename="report.pdf"`)
		w.Header().Set("Set-Cookie", "seen=1")
		w.Header().Set("X-App-Only", "dropped")
		w.WriteHeader(http.StatusTeapot) // dropped too, as nginx drops it
		io.WriteString(w, "THE APP'S BODY")
	case strings.HasPrefix(r.URL.Path, "/inner/"):
		// An internal upstream location, reached through a redirect.
		if r.URL.Query().Get("again") != "" {
			w.Header().Set("X-Accel-Redirect", "/protected/report.pdf")
			return
		}
		io.WriteString(w, "inner "+r.Method+" "+r.URL.RequestURI())
	default:
		http.NotFound(w, r)
	}
}

// accelEdge: the app behind /, /protected/ (internal, files), /public/
// (files, not internal), /inner/ (internal, the app). A secret file lies
// beside the protected root.
func accelEdge(t *testing.T) (addr string, pdf []byte) {
	t.Helper()
	dir := t.TempDir()
	protected := filepath.Join(dir, "protected")
	public := filepath.Join(dir, "public")
	for _, d := range []string{protected, public} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pdf = bytes.Repeat([]byte("%PDF-1.4 0123456789\n"), 20_000) // 400 kB: served from disk, not the cache
	for name, data := range map[string][]byte{
		filepath.Join(protected, "report.pdf"): pdf,
		filepath.Join(protected, "small.txt"):  []byte("small file\n"),
		filepath.Join(public, "open.txt"):      []byte("public\n"),
		filepath.Join(dir, "secret.txt"):       []byte("SECRET\n"),
	} {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := httpApp(t, http.HandlerFunc(accelApp))
	cfg.Locations = []edge.LocationConfig{
		{Path: "/", Upstream: "app"},
		{Path: "/protected/", Root: protected, Internal: true},
		{Path: "/public/", Root: public},
		{Path: "/inner/", Upstream: "app", Internal: true},
	}
	_, addr = limitsEdge(t, cfg, nil)
	return addr, pdf
}

// accelDo sends one raw request and returns the answer with its body.
func accelDo(t *testing.T, addr, method, target, extra string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	body := ""
	if method == "POST" {
		body = "a=1"
		extra += "Content-Length: 3\r\nContent-Type: application/x-www-form-urlencoded\r\n"
	}
	io.WriteString(c, method+" "+target+" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"+extra+"\r\n"+body)
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, target, err)
	}
	return resp, string(b)
}

func TestXAccelRedirectServesTheInternalFile(t *testing.T) {
	addr, pdf := accelEdge(t)

	resp, body := accelDo(t, addr, "GET", "/download/report.pdf", "")
	if resp.StatusCode != 200 || body != string(pdf) {
		t.Fatalf("status %d, %d bytes (want 200 and the file's %d); starts %.40q", resp.StatusCode, len(body), len(pdf), body)
	}
	h := resp.Header
	if h.Get("Content-Type") != "application/pdf" || h.Get("Content-Length") != strconv.Itoa(len(pdf)) {
		t.Errorf("type %q length %q, want the file's", h.Get("Content-Type"), h.Get("Content-Length"))
	}
	if h.Get("Content-Disposition") == "" || h.Get("Set-Cookie") != "seen=1" {
		t.Errorf("the app's Content-Disposition and Set-Cookie were not kept: %v", h)
	}
	if h.Get("X-App-Only") != "" || h.Get("X-Accel-Redirect") != "" || h.Get("Etag") == "" {
		t.Errorf("headers: %v; want the app's others dropped, no X-Accel-Redirect, the file's ETag", h)
	}

	// Ranges, HEAD, conditional requests: the static location's.
	resp, body = accelDo(t, addr, "GET", "/download/report.pdf", "Range: bytes=0-7\r\n")
	if resp.StatusCode != 206 || body != "%PDF-1.4" {
		t.Errorf("range: %d %q, want 206 %%PDF-1.4", resp.StatusCode, body)
	}
	resp, body = accelDo(t, addr, "HEAD", "/download/report.pdf", "")
	if resp.StatusCode != 200 || body != "" || resp.ContentLength != int64(len(pdf)) {
		t.Errorf("HEAD: %d, %d bytes, length %d", resp.StatusCode, len(body), resp.ContentLength)
	}
	etag := h.Get("Etag")
	if resp, _ = accelDo(t, addr, "GET", "/download/report.pdf", "If-None-Match: "+etag+"\r\n"); resp.StatusCode != 304 {
		t.Errorf("If-None-Match: %d, want 304", resp.StatusCode)
	}
	// A POST that the app answers with a redirect gets the file (GET).
	if resp, body = accelDo(t, addr, "POST", "/download/small.txt", ""); resp.StatusCode != 200 || body != "small file\n" {
		t.Errorf("POST: %d %q", resp.StatusCode, body)
	}
	// The app's type wins over the file's, as in nginx; also from the cache.
	for _, f := range []string{"report.pdf", "small.txt", "small.txt"} {
		resp, _ = accelDo(t, addr, "GET", "/download/"+f+"?type=application/octet-stream", "")
		if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "application/octet-stream" {
			t.Errorf("%s with the app's type: %d %q", f, resp.StatusCode, ct)
		}
	}
	// A query goes with the redirect; an internal location may be an upstream.
	if resp, body = accelDo(t, addr, "POST", "/download/x?to=/inner/file%3Fq=1", ""); resp.StatusCode != 200 || body != "inner GET /inner/file?q=1" {
		t.Errorf("to an internal upstream: %d %q", resp.StatusCode, body)
	}
}

func TestXAccelInternalLocationsAreNotForClients(t *testing.T) {
	addr, _ := accelEdge(t)
	for _, target := range []string{"/protected/report.pdf", "/protected/", "/inner/x", "/public/../protected/small.txt"} {
		if resp, body := accelDo(t, addr, "GET", target, ""); resp.StatusCode != 404 || strings.Contains(body, "small") || strings.Contains(body, "inner") {
			t.Errorf("GET %s: %d %q, want 404", target, resp.StatusCode, body)
		}
	}
	if resp, body := accelDo(t, addr, "GET", "/public/open.txt", ""); resp.StatusCode != 200 || body != "public\n" {
		t.Errorf("a public location: %d %q", resp.StatusCode, body)
	}
}

// The redirect's URI is checked as nginx checks it, and must land in an
// internal location: never a file outside the root, never the app's body.
func TestXAccelRedirectRefusesUnsafeTargets(t *testing.T) {
	addr, _ := accelEdge(t)
	for _, to := range []string{
		"/protected/../secret.txt",
		"/protected/%2e%2e/secret.txt",
		"/protected/..%2fsecret.txt",
		"/protected/sub/../../secret.txt",
		"/protected/%00",
		"/protected/a%zz",
		"/protected/..\\secret.txt",
		"http://example.com/protected/report.pdf",
		"//example.com/protected/report.pdf",
		"protected/report.pdf",
		"@named",
		"/public/open.txt", // not internal
		"/nowhere",         // the app's own location: not internal
		"/protected/nosuch.pdf",
	} {
		resp, body := accelDo(t, addr, "GET", "/download/x?to="+escapeQuery(to), "")
		if resp.StatusCode != 404 || strings.Contains(body, "SECRET") || strings.Contains(body, "APP'S") || strings.Contains(body, "public") {
			t.Errorf("X-Accel-Redirect: %s → %d %q, want 404", to, resp.StatusCode, body)
		}
	}
	// A second redirect from an internal upstream is refused: no loops.
	if resp, body := accelDo(t, addr, "GET", "/download/x?to=/inner/y%3Fagain=1", ""); resp.StatusCode != 500 || strings.Contains(body, "PDF") {
		t.Errorf("second redirect: %d %q, want 500", resp.StatusCode, body)
	}
}

// escapeQuery percent-encodes what a query value must not carry raw.
func escapeQuery(s string) string {
	r := strings.NewReplacer("%", "%25", "?", "%3F", "&", "%26", "#", "%23", "\\", "%5C", "+", "%2B")
	return r.Replace(s)
}

// The same through our appserver over uwsgi, on kept connections: the
// app's dropped body does not desynchronise the next request.
func TestXAccelRedirectOverUwsgi(t *testing.T) {
	dir := t.TempDir()
	pdf := bytes.Repeat([]byte("%PDF-1.4 uwsgi\n"), 1000)
	if err := os.WriteFile(filepath.Join(dir, "report.pdf"), pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := proxyConfig("unix:" + startApp(t, http.HandlerFunc(accelApp)))
	cfg.Locations = append(cfg.Locations, edge.LocationConfig{Path: "/protected/", Root: dir, Internal: true})
	_, addr := limitsEdge(t, cfg, nil)
	for i := range 5 {
		resp, body := accelDo(t, addr, "GET", "/download/report.pdf", "")
		if resp.StatusCode != 200 || body != string(pdf) || resp.Header.Get("Content-Type") != "application/pdf" {
			t.Fatalf("%d: %d %q, %d bytes", i, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		// Here /inner/ is not internal: an ordinary request to the app.
		if resp, body := accelDo(t, addr, "GET", "/inner/x", ""); resp.StatusCode != 200 || body != "inner GET /inner/x" {
			t.Fatalf("%d: the app after a redirect: %d %q", i, resp.StatusCode, body)
		}
	}
}

// X-Accel-Limit-Rate paces a redirected download, as nginx's limit_rate.
func TestXAccelLimitRate(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte("x"), 96<<10)
	if err := os.WriteFile(filepath.Join(dir, "f.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	const rate = 128 << 10 // bytes per second: 96 KiB take 0.75 s
	cfg := httpApp(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Accel-Redirect", "/files/f.bin")
		w.Header().Set("X-Accel-Limit-Rate", strconv.Itoa(rate))
	}))
	cfg.Locations = append(cfg.Locations, edge.LocationConfig{Path: "/files/", Root: dir, Internal: true})
	_, addr := limitsEdge(t, cfg, nil)
	start := time.Now()
	resp, body := accelDo(t, addr, "GET", "/download", "")
	elapsed := time.Since(start)
	// Never faster than the rate allows; slower is the machine's business.
	least := time.Duration(float64(len(data)-rate/10) / rate * float64(time.Second))
	t.Logf("%d bytes at %d B/s in %v (at least %v)", len(data), rate, elapsed, least)
	if resp.StatusCode != 200 || body != string(data) || elapsed < least {
		t.Errorf("%d, %d bytes in %v; want 200, the whole file, and at least %v", resp.StatusCode, len(body), elapsed, least)
	}
}
