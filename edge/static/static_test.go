package static

import (
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// staticTree builds a root with the cases the rules are about, and a
// secret outside it.
func staticTree(t *testing.T) (root string, secret string) {
	t.Helper()
	top := t.TempDir()
	root = filepath.Join(top, "root")
	secret = filepath.Join(top, "secret.txt")
	write := func(p, body string) {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(secret, "TOP SECRET")
	write(filepath.Join(root, "polls", "style.css"), "body { color: red }")
	write(filepath.Join(root, "hello.txt"), "0123456789abcdefghij")
	write(filepath.Join(root, ".env"), "TOP SECRET")
	write(filepath.Join(root, ".git", "config"), "TOP SECRET")
	write(filepath.Join(root, "site", "index.html"), "<h1>index</h1>")
	os.MkdirAll(filepath.Join(root, "empty"), 0o755)
	write(filepath.Join(root, "big.bin"), strings.Repeat("x", 1<<20))
	os.Symlink(secret, filepath.Join(root, "link-out"))
	os.Symlink(filepath.Join(top), filepath.Join(root, "dir-out"))
	os.Symlink("hello.txt", filepath.Join(root, "link-in"))
	return root, secret
}

func newTestStatic(t *testing.T, root string) *Handler {
	t.Helper()
	s, err := New("/static/", root, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func serveStatic(s *Handler, method, target string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "http://x"+target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func TestStaticRules(t *testing.T) {
	root, _ := staticTree(t)
	s := newTestStatic(t, root)
	tests := []struct {
		name, method, target string
		status               int
		body                 string
		header               map[string]string
	}{
		{"file", "GET", "/static/polls/style.css", 200, "body { color: red }", map[string]string{"Content-Type": "text/css; charset=utf-8"}},
		{"head has no body", "HEAD", "/static/hello.txt", 200, "", map[string]string{"Content-Length": "20"}},
		{"symlink inside the root", "GET", "/static/link-in", 200, "0123456789abcdefghij", nil},
		{"directory index", "GET", "/static/site/", 200, "<h1>index</h1>", nil},
		{"directory without slash redirects", "GET", "/static/site?a=1", 301, "", map[string]string{"Location": "/static/site/?a=1"}},
		{"location without slash redirects", "GET", "/static", 301, "", map[string]string{"Location": "/static/"}},
		{"no listing", "GET", "/static/empty/", 403, "", nil},
		{"no listing of the root", "GET", "/static/", 403, "", nil},
		{"missing", "GET", "/static/nope.css", 404, "", nil},
		{"file with a slash", "GET", "/static/hello.txt/", 404, "", nil},
		{"dotfile", "GET", "/static/.env", 404, "", nil},
		{"dot directory", "GET", "/static/.git/config", 404, "", nil},
		{"symlink out of the root", "GET", "/static/link-out", 404, "", nil},
		{"symlinked directory out of the root", "GET", "/static/dir-out/secret.txt", 404, "", nil},
		{"dot-dot", "GET", "/static/../secret.txt", 400, "", nil},
		{"encoded dot-dot", "GET", "/static/%2e%2e/secret.txt", 400, "", nil},
		{"encoded slash", "GET", "/static/..%2fsecret.txt", 404, "", nil},
		{"encoded backslash", "GET", "/static/..%5csecret.txt", 404, "", nil},
		{"NUL", "GET", "/static/hello.txt%00.css", 404, "", nil},
		{"POST", "POST", "/static/hello.txt", 405, "", map[string]string{"Allow": "GET, HEAD"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serveStatic(s, tt.method, tt.target)
			if w.Code != tt.status {
				t.Errorf("status %d, want %d (body %q)", w.Code, tt.status, w.Body.String())
			}
			if tt.status == 200 && w.Body.String() != tt.body {
				t.Errorf("body %q, want %q", w.Body.String(), tt.body)
			}
			if strings.Contains(w.Body.String(), "SECRET") {
				t.Fatal("served the secret")
			}
			for k, v := range tt.header {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestStaticConditionalAndRanges(t *testing.T) {
	root, _ := staticTree(t)
	s := newTestStatic(t, root)
	fi, _ := os.Stat(filepath.Join(root, "hello.txt"))
	wantTag := fmt.Sprintf(`"%x-%x"`, fi.ModTime().Unix(), fi.Size())

	w := serveStatic(s, "GET", "/static/hello.txt")
	if got := w.Header().Get("ETag"); got != wantTag {
		t.Fatalf("ETag %q, want nginx's %q", got, wantTag)
	}
	lm := w.Header().Get("Last-Modified")
	if lm != fi.ModTime().UTC().Format(http.TimeFormat) {
		t.Errorf("Last-Modified %q", lm)
	}
	if w := serveStatic(s, "GET", "/static/hello.txt", "If-None-Match", wantTag); w.Code != 304 || w.Body.Len() != 0 {
		t.Errorf("If-None-Match: %d %q", w.Code, w.Body.String())
	}
	if w := serveStatic(s, "GET", "/static/hello.txt", "If-Modified-Since", lm); w.Code != 304 {
		t.Errorf("If-Modified-Since: %d", w.Code)
	}
	if w := serveStatic(s, "GET", "/static/hello.txt", "If-Modified-Since", fi.ModTime().Add(-time.Hour).UTC().Format(http.TimeFormat)); w.Code != 200 {
		t.Errorf("If-Modified-Since an hour earlier: %d", w.Code)
	}
	w = serveStatic(s, "GET", "/static/hello.txt", "Range", "bytes=0-9")
	if w.Code != 206 || w.Body.String() != "0123456789" || w.Header().Get("Content-Range") != "bytes 0-9/20" {
		t.Errorf("Range: %d %q %q", w.Code, w.Body.String(), w.Header().Get("Content-Range"))
	}
	w = serveStatic(s, "GET", "/static/hello.txt", "Range", "bytes=0-1,10-11")
	if w.Code != 206 || !strings.HasPrefix(w.Header().Get("Content-Type"), "multipart/byteranges") {
		t.Fatalf("multi-range: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	_, params, err := mime.ParseMediaType(w.Header().Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(w.Body, params["boundary"])
	var parts []string
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(p)
		parts = append(parts, string(b))
	}
	if strings.Join(parts, ",") != "01,ab" {
		t.Errorf("parts %q", parts)
	}
	if w := serveStatic(s, "GET", "/static/hello.txt", "Range", "bytes=5-9", "If-Range", `"stale"`); w.Code != 200 {
		t.Errorf("If-Range with a stale tag: %d, want the whole file", w.Code)
	}
	if w := serveStatic(s, "GET", "/static/hello.txt", "Range", "bytes=50-60"); w.Code != 416 {
		t.Errorf("unsatisfiable range: %d", w.Code)
	}
}

func BenchmarkStaticSmallFile(b *testing.B) {
	root := b.TempDir()
	os.WriteFile(filepath.Join(root, "small.css"), []byte(strings.Repeat("a", 1024)), 0o644)
	s, _ := New("/static/", root, slog.New(slog.DiscardHandler))
	defer s.Close()
	r := httptest.NewRequest("GET", "http://x/static/small.css", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}
