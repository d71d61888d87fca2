package static

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// precompressedTree writes app.js (small, cached) and big.css (served from
// disk) with gzip and zstd siblings (the "zstd" one is fake: the handler
// never decodes what it serves), a stale .gz, and a .gz without original.
func precompressedTree(t *testing.T) (root string, small, big []byte) {
	t.Helper()
	root = t.TempDir()
	small = bytes.Repeat([]byte("console.log('hello');\n"), 100)
	big = bytes.Repeat([]byte("body { color: red }\n"), 8000) // 160 KB: not cached
	mtime := time.Now().Add(-time.Hour).Truncate(time.Second)
	write := func(name string, data []byte, mt time.Time) {
		p := filepath.Join(root, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, mt, mt)
	}
	for name, data := range map[string][]byte{"app.js": small, "big.css": big} {
		write(name, data, mtime)
		write(name+".gz", gzipped(t, data), mtime)
		write(name+".zst", []byte("ZSTD of "+name), mtime)
	}
	write("stale.txt", []byte("new content"), mtime)
	write("stale.txt.gz", gzipped(t, []byte("old content")), mtime.Add(-time.Minute))
	write("orphan.txt.gz", gzipped(t, []byte("no original")), mtime)
	write("plain.html", []byte("<p>no siblings</p>"), mtime)
	return root, small, big
}

func gzipped(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	var out bytes.Buffer
	if _, err := out.ReadFrom(zr); err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out.Bytes()
}

func TestPrecompressedSiblings(t *testing.T) {
	root, small, big := precompressedTree(t)
	s := newTestStatic(t, root)
	s.SetPrecompressed(true)
	for _, tc := range []struct{ name, ctype string }{{"app.js", "text/javascript; charset=utf-8"}, {"big.css", "text/css; charset=utf-8"}} {
		orig := small
		if tc.name == "big.css" {
			orig = big
		}
		for round := range 2 { // the second from the cache, for the small file
			identity := serveStatic(s, "GET", "/static/"+tc.name)
			idTag := identity.Header().Get("ETag")
			if identity.Header().Get("Content-Encoding") != "" || !bytes.Equal(identity.Body.Bytes(), orig) || identity.Header().Get("Vary") != "Accept-Encoding" {
				t.Errorf("%s #%d no Accept-Encoding: Content-Encoding %q, Vary %q, %d bytes", tc.name, round, identity.Header().Get("Content-Encoding"), identity.Header().Get("Vary"), identity.Body.Len())
			}
			gz := serveStatic(s, "GET", "/static/"+tc.name, "Accept-Encoding", "gzip, deflate, br")
			h := gz.Header()
			if gz.Code != 200 || h.Get("Content-Encoding") != "gzip" || h.Get("Vary") != "Accept-Encoding" || h.Get("Content-Type") != tc.ctype {
				t.Fatalf("%s #%d gzip: %d %v", tc.name, round, gz.Code, h)
			}
			if !bytes.Equal(gunzip(t, gz.Body.Bytes()), orig) || h.Get("Content-Length") != fmt.Sprint(gz.Body.Len()) {
				t.Errorf("%s #%d gzip: the body is not the original's gzip", tc.name, round)
			}
			gzTag := h.Get("ETag")
			if gzTag == idTag || !strings.HasSuffix(gzTag, `-gzip"`) {
				t.Errorf("%s #%d: ETag gzip %s, identity %s", tc.name, round, gzTag, idTag)
			}
			zs := serveStatic(s, "GET", "/static/"+tc.name, "Accept-Encoding", "gzip, zstd")
			if zs.Header().Get("Content-Encoding") != "zstd" || zs.Body.String() != "ZSTD of "+tc.name {
				t.Errorf("%s #%d zstd: %q %q", tc.name, round, zs.Header().Get("Content-Encoding"), zs.Body.String())
			}
			// Conditions and ranges apply to the variant served.
			nm := serveStatic(s, "GET", "/static/"+tc.name, "Accept-Encoding", "gzip", "If-None-Match", gzTag)
			if nm.Code != 304 || nm.Header().Get("ETag") != gzTag {
				t.Errorf("%s #%d If-None-Match the gzip ETag: %d", tc.name, round, nm.Code)
			}
			if c := serveStatic(s, "GET", "/static/"+tc.name, "Accept-Encoding", "gzip", "If-None-Match", idTag).Code; c != 200 {
				t.Errorf("%s #%d If-None-Match the identity ETag, asking gzip: %d", tc.name, round, c)
			}
			rg := serveStatic(s, "GET", "/static/"+tc.name, "Accept-Encoding", "gzip", "Range", "bytes=0-9")
			if rg.Code != 206 || rg.Header().Get("Content-Encoding") != "gzip" || !bytes.Equal(rg.Body.Bytes(), gz.Body.Bytes()[:10]) {
				t.Errorf("%s #%d range of the gzip: %d %q", tc.name, round, rg.Code, rg.Body.Bytes())
			}
			head := serveStatic(s, "HEAD", "/static/"+tc.name, "Accept-Encoding", "gzip")
			if head.Header().Get("Content-Encoding") != "gzip" || head.Body.Len() != 0 {
				t.Errorf("%s #%d HEAD: %v", tc.name, round, head.Header())
			}
			if no := serveStatic(s, "GET", "/static/"+tc.name, "Accept-Encoding", "gzip;q=0, zstd;q=0"); no.Header().Get("Content-Encoding") != "" || !bytes.Equal(no.Body.Bytes(), orig) {
				t.Errorf("%s #%d q=0: %q", tc.name, round, no.Header().Get("Content-Encoding"))
			}
		}
	}

	// A sibling older than its original is stale: the original is served.
	st := serveStatic(s, "GET", "/static/stale.txt", "Accept-Encoding", "gzip")
	if st.Header().Get("Content-Encoding") != "" || st.Body.String() != "new content" || st.Header().Get("Vary") != "" {
		t.Errorf("stale sibling: %q %q", st.Header().Get("Content-Encoding"), st.Body.String())
	}
	// A sibling without its original stands for nothing.
	if c := serveStatic(s, "GET", "/static/orphan.txt", "Accept-Encoding", "gzip").Code; c != 404 {
		t.Errorf("orphan: %d, want 404", c)
	}
	if c := serveStatic(s, "GET", "/static/plain.html", "Accept-Encoding", "gzip"); c.Header().Get("Vary") != "" || c.Header().Get("Content-Encoding") != "" {
		t.Errorf("no siblings: %v", c.Header())
	}
}

func TestPrecompressedOff(t *testing.T) {
	root, small, _ := precompressedTree(t)
	s := newTestStatic(t, root)
	for _, name := range []string{"app.js", "big.css"} {
		w := serveStatic(s, "GET", "/static/"+name, "Accept-Encoding", "gzip, zstd")
		if w.Header().Get("Content-Encoding") != "" || w.Header().Get("Vary") != "" {
			t.Errorf("%s: %v", name, w.Header())
		}
	}
	if w := serveStatic(s, "GET", "/static/app.js", "Accept-Encoding", "gzip"); !bytes.Equal(w.Body.Bytes(), small) {
		t.Error("app.js: not the original")
	}
}

// A sibling written after the original was cached is served once the
// entry is re-checked; one removed stops being served.
func TestPrecompressedSiblingFollowsTheDisk(t *testing.T) {
	root := t.TempDir()
	s := newTestStatic(t, root)
	s.cache.valid = time.Millisecond
	s.SetPrecompressed(true)
	for _, n := range []int{100, 20000} { // cached; too large for the cache
		orig := bytes.Repeat([]byte("a{b:c}\n"), n)
		name := fmt.Sprintf("x%d.css", n)
		os.WriteFile(filepath.Join(root, name), orig, 0o644)
		if w := serveStatic(s, "GET", "/static/"+name, "Accept-Encoding", "gzip"); w.Header().Get("Content-Encoding") != "" {
			t.Fatalf("%s: no sibling yet: %v", name, w.Header())
		}
		os.WriteFile(filepath.Join(root, name+".gz"), gzipped(t, orig), 0o644)
		time.Sleep(5 * time.Millisecond)
		if w := serveStatic(s, "GET", "/static/"+name, "Accept-Encoding", "gzip"); w.Header().Get("Content-Encoding") != "gzip" || !bytes.Equal(gunzip(t, w.Body.Bytes()), orig) {
			t.Fatalf("%s: the new sibling is not served: %v", name, w.Header())
		}
		os.Remove(filepath.Join(root, name+".gz"))
		time.Sleep(5 * time.Millisecond)
		if w := serveStatic(s, "GET", "/static/"+name, "Accept-Encoding", "gzip"); w.Header().Get("Content-Encoding") != "" || w.Header().Get("Vary") != "" || !bytes.Equal(w.Body.Bytes(), orig) {
			t.Fatalf("%s: the removed sibling is still served: %v", name, w.Header())
		}
	}
}

// readFromRecorder tells whether the body came through ReadFrom, the
// path to sendfile(2) on a real connection.
type readFromRecorder struct {
	*httptest.ResponseRecorder
	readFrom bool
}

func (r *readFromRecorder) ReadFrom(src io.Reader) (int64, error) {
	r.readFrom = true
	return io.Copy(r.ResponseRecorder, src)
}

// A large precompressed sibling goes out through ReadFrom, as its
// original would (sendfile).
func TestPrecompressedSiblingKeepsSendfile(t *testing.T) {
	root, _, big := precompressedTree(t)
	s := newTestStatic(t, root)
	s.SetPrecompressed(true)
	w := &readFromRecorder{ResponseRecorder: httptest.NewRecorder()}
	r := httptest.NewRequest("GET", "http://x/static/big.css", nil)
	r.Header.Set("Accept-Encoding", "gzip")
	s.ServeHTTP(w, r)
	if !w.readFrom || w.Header().Get("Content-Encoding") != "gzip" || !bytes.Equal(gunzip(t, w.Body.Bytes()), big) {
		t.Errorf("ReadFrom used %v, Content-Encoding %q", w.readFrom, w.Header().Get("Content-Encoding"))
	}
}
