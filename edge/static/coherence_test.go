package static

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// versionOf is the n-th version of a file: each has its own size and
// time, so its ETag says which one it is.
func versionOf(n int) (body, etag string, mtime time.Time) {
	body = strings.Repeat(strconv.Itoa(n%10), 100+n)
	mtime = time.Unix(1_700_000_000+int64(n), 0)
	return body, `"` + strconv.FormatInt(mtime.Unix(), 16) + "-" + strconv.FormatInt(int64(len(body)), 16) + `"`, mtime
}

// version writes the n-th version of name as nginx's users deploy one:
// into a temporary name, then renamed over the old one.
func version(t *testing.T, dir, name string, n int) (body string, etag string) {
	t.Helper()
	body, etag, mt := versionOf(n)
	tmp := filepath.Join(dir, fmt.Sprintf(".tmp-%d", n))
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(tmp, mt, mt)
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
	return body, etag
}

// A file replaced by a rename is served as it was within the validity
// (whole, with its own header), and as it is after it.
func TestCachedFileReplacedByRename(t *testing.T) {
	root := t.TempDir()
	old, oldTag := version(t, root, "app.js", 1)
	s := newTestStatic(t, root)
	s.cache.valid = time.Hour // "within the validity", whatever the machine's load
	if got := serveStatic(s, "GET", "/static/app.js"); got.Body.String() != old {
		t.Fatalf("first: %q", got.Body.String())
	}
	cur, curTag := version(t, root, "app.js", 2)
	got := serveStatic(s, "GET", "/static/app.js")
	if got.Body.String() != old || got.Header().Get("Etag") != oldTag || got.Header().Get("Content-Length") != strconv.Itoa(len(old)) {
		t.Errorf("within the validity: %q, ETag %s, Content-Length %s; want the old file whole", got.Body.String(), got.Header().Get("Etag"), got.Header().Get("Content-Length"))
	}
	s.cache.valid = time.Millisecond // and after it
	time.Sleep(5 * time.Millisecond)
	got = serveStatic(s, "GET", "/static/app.js")
	if got.Body.String() != cur || got.Header().Get("Etag") != curTag || got.Header().Get("Content-Length") != strconv.Itoa(len(cur)) {
		t.Errorf("after the validity: %q, ETag %s, Content-Length %s; want the new file", got.Body.String(), got.Header().Get("Etag"), got.Header().Get("Content-Length"))
	}
	// Its revalidation with the old tag is a 200 now, with the new tag a 304.
	if got := serveStatic(s, "GET", "/static/app.js", "If-None-Match", oldTag); got.Code != 200 || got.Body.String() != cur {
		t.Errorf("If-None-Match of the old version: %d", got.Code)
	}
	if got := serveStatic(s, "GET", "/static/app.js", "If-None-Match", curTag); got.Code != 304 {
		t.Errorf("If-None-Match of the current version: %d", got.Code)
	}
	// Removed, then a directory in its place: 404, then 301 as from disk.
	os.Remove(filepath.Join(root, "app.js"))
	time.Sleep(5 * time.Millisecond)
	if got := serveStatic(s, "GET", "/static/app.js"); got.Code != 404 {
		t.Errorf("removed: %d", got.Code)
	}
	os.Mkdir(filepath.Join(root, "app.js"), 0o755)
	if got := serveStatic(s, "GET", "/static/app.js"); got.Code != 301 {
		t.Errorf("a directory now: %d", got.Code)
	}
}

// While a file is replaced again and again by rename, every answer is one
// version whole: its body, Content-Length and ETag agree, from the cache
// or from disk. (A file rewritten in place, truncated then written, has
// no such guarantee from any server: nginx sends what the inode holds.)
func TestCachedFileNeverMixesHeadAndBody(t *testing.T) {
	root := t.TempDir()
	const versions = 100
	var mu sync.Mutex
	bodies := map[string]string{} // ETag → body, registered before the version is on disk
	b, tag := version(t, root, "app.js", 0)
	bodies[tag] = b
	s := newTestStatic(t, root)
	s.cache.valid = time.Millisecond
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var served, notOK, bad int
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				got := serveStatic(s, "GET", "/static/app.js")
				etag, body, cl := got.Header().Get("Etag"), got.Body.String(), got.Header().Get("Content-Length")
				mu.Lock()
				served++
				want, known := bodies[etag]
				size := ""
				if i := strings.LastIndexByte(etag, '-'); i > 0 {
					size = strings.Trim(etag[i+1:], `"`)
				}
				switch {
				case got.Code != 200:
					notOK++
				case cl != strconv.Itoa(len(body)) || size != strconv.FormatInt(int64(len(body)), 16):
					bad++
					t.Errorf("ETag %s, Content-Length %s, body of %d bytes", etag, cl, len(body))
				case !known || body != want:
					bad++
					t.Errorf("ETag %s (known: %v) with the body %.20q", etag, known, body)
				}
				mu.Unlock()
			}
		})
	}
	for n := 1; n < versions; n++ {
		body, tag, _ := versionOf(n)
		mu.Lock()
		bodies[tag] = body
		mu.Unlock()
		version(t, root, "app.js", n)
		time.Sleep(300 * time.Microsecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d answers while %d versions replaced one another: %d not 200, %d mixed", served, versions, notOK, bad)
	if notOK > 0 {
		t.Errorf("%d answers were not 200: a file replaced by rename is never absent", notOK)
	}
	if served < versions {
		t.Errorf("only %d answers", served)
	}
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// Every answer, cached or from disk, found or refused, closes what it
// opened; Close releases the root.
func TestStaticLeaksNoDescriptors(t *testing.T) {
	root, _ := staticTree(t)
	os.WriteFile(filepath.Join(root, "app.js"), []byte("small"), 0o644)
	os.WriteFile(filepath.Join(root, "app.js.gz"), gzipped(t, []byte("small")), 0o644)
	os.WriteFile(filepath.Join(root, "big.bin.gz"), gzipped(t, []byte("big")), 0o644)
	before := openFDs(t)
	s, err := New("/static/", root, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s.SetPrecompressed(true)
	s.cache.valid = time.Millisecond
	reqs := [][]string{
		{"GET", "/static/hello.txt"}, {"HEAD", "/static/hello.txt"},
		{"GET", "/static/hello.txt", "Range", "bytes=1-3"},
		{"GET", "/static/hello.txt", "If-None-Match", "*"},
		{"GET", "/static/big.bin"}, {"GET", "/static/big.bin", "Range", "bytes=0-9"},
		{"GET", "/static/big.bin", "Accept-Encoding", "gzip"},
		{"GET", "/static/app.js", "Accept-Encoding", "gzip"},
		{"GET", "/static/site/"}, {"GET", "/static/site"}, {"GET", "/static/empty/"},
		{"GET", "/static/missing"}, {"GET", "/static/link-out"}, {"GET", "/static/dir-out/secret.txt"},
		{"GET", "/static/.env"}, {"GET", "/static/hello.txt/"}, {"POST", "/static/hello.txt"},
	}
	for round := range 3 {
		for _, r := range reqs {
			serveStatic(s, r[0], r[1], r[2:]...)
		}
		if round == 1 {
			time.Sleep(2 * time.Millisecond) // past the validity: re-checked against the disk
		}
	}
	if n := openFDs(t); n != before+1 {
		t.Errorf("%d descriptors open after %d requests, %d before (the root is one)", n, 3*len(reqs), before)
	}
	s.Close()
	if n := openFDs(t); n != before {
		t.Errorf("%d descriptors open after Close, %d before", n, before)
	}
}

// The cache holds no more than its bytes allow, however many small files
// are asked for; when full, files not served for a while make room for
// new ones, and files in use stay.
func TestCacheBoundAndRoomForNewFiles(t *testing.T) {
	root := t.TempDir()
	for i := range 100 {
		os.WriteFile(filepath.Join(root, fmt.Sprintf("f%d.txt", i)), make([]byte, 1000), 0o644)
	}
	s := newTestStatic(t, root)
	s.cache.maxBytes = 10 * (1000 + entryOverhead)
	for i := range 100 {
		serveStatic(s, "GET", fmt.Sprintf("/static/f%d.txt", i))
	}
	s.cache.mu.RLock()
	n, bytes := len(s.cache.files), s.cache.bytes
	s.cache.mu.RUnlock()
	if n != 10 || bytes > s.cache.maxBytes {
		t.Errorf("%d entries, %d bytes in a cache of %d bytes (room for 10)", n, bytes, s.cache.maxBytes)
	}
	// Later: f0..f9 fill it; f0 and f1 were served a moment ago, the
	// others not for cacheInactive. New files take the others' room.
	now := time.Now().Add(cacheInactive + time.Second)
	for _, name := range []string{"f0.txt", "f1.txt"} {
		f, _ := s.open(name)
		fi, _ := f.Stat()
		s.cache.load(name, f, fi, now)
		f.Close()
	}
	for i := 50; i < 60; i++ {
		name := fmt.Sprintf("f%d.txt", i)
		f, _ := s.open(name)
		fi, _ := f.Stat()
		s.cache.load(name, f, fi, now)
		f.Close()
	}
	s.cache.mu.RLock()
	defer s.cache.mu.RUnlock()
	for _, name := range []string{"f0.txt", "f1.txt", "f50.txt", "f57.txt"} {
		if s.cache.files[name] == nil {
			t.Errorf("%s is not cached", name)
		}
	}
	if s.cache.files["f5.txt"] != nil || len(s.cache.files) != 10 || s.cache.bytes > s.cache.maxBytes {
		t.Errorf("%d entries, %d bytes; f5.txt cached: %v", len(s.cache.files), s.cache.bytes, s.cache.files["f5.txt"] != nil)
	}
}

// A revalidation answered from the cache (the ETag alone in
// If-None-Match) has the header ServeContent gives one that it answers
// (a weak tag, a list); with If-Match besides, ServeContent decides.
func TestCachedNotModifiedAsServeContent(t *testing.T) {
	root, _ := staticTree(t)
	s := newTestStatic(t, root)
	tag := serveStatic(s, "GET", "/static/hello.txt").Header().Get("Etag")
	fast := serveStatic(s, "GET", "/static/hello.txt", "If-None-Match", tag)
	for _, inm := range []string{"W/" + tag, `"other", ` + tag} {
		slow := serveStatic(s, "GET", "/static/hello.txt", "If-None-Match", inm)
		if fast.Code != 304 || slow.Code != 304 {
			t.Fatalf("304s: %d from the cache, %d from ServeContent (If-None-Match %s)", fast.Code, slow.Code, inm)
		}
		if fmt.Sprint(fast.Header()) != fmt.Sprint(slow.Header()) || fast.Body.Len() != 0 {
			t.Errorf("from the cache: %v %q\nfrom ServeContent (If-None-Match %s): %v", fast.Header(), fast.Body.String(), inm, slow.Header())
		}
	}
	if got := serveStatic(s, "GET", "/static/hello.txt", "If-None-Match", tag, "If-Match", `"other"`); got.Code != 412 {
		t.Errorf("If-Match of another tag with If-None-Match of this one: %d, want 412", got.Code)
	}
	if got := serveStatic(s, "HEAD", "/static/hello.txt", "If-None-Match", tag); got.Code != 304 {
		t.Errorf("HEAD: %d", got.Code)
	}
}

// A plain GET or HEAD of a large file (served whole without ServeContent)
// has the header ServeContent gives the same file for a request with a
// condition that holds, and the whole body; a type unknown by extension is
// sniffed, and sendfile still starts at the first byte.
func TestLargeFileWholeAsServeContent(t *testing.T) {
	root, _ := staticTree(t)
	os.WriteFile(filepath.Join(root, "big.unknownext"), []byte(strings.Repeat("plain words\n", maxCachedFile)), 0o644)
	s := newTestStatic(t, root)
	for _, name := range []string{"big.bin", "big.unknownext"} {
		for _, method := range []string{"GET", "HEAD"} {
			whole := serveStatic(s, method, "/static/"+name)
			slow := serveStatic(s, method, "/static/"+name, "If-None-Match", `"another"`)
			if whole.Code != 200 || fmt.Sprint(whole.Header()) != fmt.Sprint(slow.Header()) || whole.Body.String() != slow.Body.String() {
				t.Errorf("%s %s: %d %v (%d bytes)\nServeContent: %d %v (%d bytes)", method, name, whole.Code, whole.Header(), whole.Body.Len(), slow.Code, slow.Header(), slow.Body.Len())
			}
		}
	}
	got := serveStatic(s, "GET", "/static/big.unknownext")
	if got.Body.Len() != 12*maxCachedFile || !strings.HasPrefix(got.Body.String(), "plain words\n") {
		t.Errorf("sniffed file: %d bytes, %.20q", got.Body.Len(), got.Body.String())
	}
}
