package static

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A small file is served from memory with the same header as from disk,
// and a change on disk shows once the entry's validity has passed.
func TestCachedFileFollowsTheDisk(t *testing.T) {
	root, _ := staticTree(t)
	s := newTestStatic(t, root)
	s.cache.valid = 50 * time.Millisecond
	first := serveStatic(s, "GET", "/static/hello.txt")
	second := serveStatic(s, "GET", "/static/hello.txt") // from the cache
	if s.cache.lookup("hello.txt", time.Now()) == nil {
		t.Fatal("a 20-byte file was not cached")
	}
	for _, k := range []string{"Etag", "Last-Modified", "Content-Type", "Content-Length"} {
		if first.Header().Get(k) == "" || first.Header().Get(k) != second.Header().Get(k) {
			t.Errorf("%s: %q from disk, %q from the cache", k, first.Header().Get(k), second.Header().Get(k))
		}
	}
	if second.Body.String() != "0123456789abcdefghij" || second.Code != 200 {
		t.Fatalf("from the cache: %d %q", second.Code, second.Body.String())
	}

	// Changed on disk (another size and time): still the old content
	// within the validity, the new one after it.
	p := filepath.Join(root, "hello.txt")
	os.WriteFile(p, []byte("changed"), 0o644)
	os.Chtimes(p, time.Now(), time.Now().Add(time.Hour))
	time.Sleep(60 * time.Millisecond)
	if got := serveStatic(s, "GET", "/static/hello.txt"); got.Body.String() != "changed" || got.Header().Get("Content-Length") != "7" {
		t.Errorf("after a change on disk: %q (Content-Length %s)", got.Body.String(), got.Header().Get("Content-Length"))
	}

	// Removed: 404 once the validity has passed, and the entry is gone.
	os.Remove(p)
	time.Sleep(60 * time.Millisecond)
	if got := serveStatic(s, "GET", "/static/hello.txt"); got.Code != 404 {
		t.Errorf("a removed file: %d", got.Code)
	}
	if s.cache.files["hello.txt"] != nil {
		t.Error("a removed file stayed in the cache")
	}
}

// Ranges, conditional requests and HEAD are answered from a cached file as
// from disk.
func TestCachedFileRangesAndConditions(t *testing.T) {
	root, _ := staticTree(t)
	s := newTestStatic(t, root)
	warm := serveStatic(s, "GET", "/static/hello.txt")
	if s.cache.lookup("hello.txt", time.Now()) == nil {
		t.Fatal("not cached")
	}
	if got := serveStatic(s, "GET", "/static/hello.txt", "Range", "bytes=2-4"); got.Code != 206 || got.Body.String() != "234" {
		t.Errorf("range: %d %q", got.Code, got.Body.String())
	}
	if got := serveStatic(s, "GET", "/static/hello.txt", "If-None-Match", warm.Header().Get("Etag")); got.Code != 304 || got.Body.Len() != 0 {
		t.Errorf("If-None-Match: %d %q", got.Code, got.Body.String())
	}
	if got := serveStatic(s, "GET", "/static/hello.txt", "If-Modified-Since", warm.Header().Get("Last-Modified")); got.Code != 304 {
		t.Errorf("If-Modified-Since: %d", got.Code)
	}
	if got := serveStatic(s, "HEAD", "/static/hello.txt"); got.Code != 200 || got.Body.Len() != 0 || got.Header().Get("Content-Length") != "20" {
		t.Errorf("HEAD: %d %q, Content-Length %q", got.Code, got.Body.String(), got.Header().Get("Content-Length"))
	}
	// The cached path keeps the refusals: a trailing slash on a file.
	if got := serveStatic(s, "GET", "/static/hello.txt/"); got.Code != 404 {
		t.Errorf("hello.txt/: %d", got.Code)
	}
}

// Large files are not cached; they are served from disk whole.
func TestLargeFileIsNotCached(t *testing.T) {
	root, _ := staticTree(t)
	s := newTestStatic(t, root)
	got := serveStatic(s, "GET", "/static/big.bin")
	if got.Code != 200 || got.Body.Len() != 1<<20 || strings.Trim(got.Body.String(), "x") != "" {
		t.Fatalf("big.bin: %d, %d bytes", got.Code, got.Body.Len())
	}
	if s.cache.files["big.bin"] != nil || s.cache.bytes > maxCachedFile {
		t.Errorf("a 1 MiB file was cached (%d bytes in the cache)", s.cache.bytes)
	}
}

// Names without end for one empty file (links to "." inside the root)
// fill the cache only up to its bound: each entry counts, not only its
// content.
func TestCacheEntriesAreBoundedForEmptyFilesUnderManyNames(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "empty.txt"), nil, 0o644)
	for _, link := range []string{"a", "b", "c", "d"} {
		os.Symlink(".", filepath.Join(root, link))
	}
	s := newTestStatic(t, root)
	s.cache.maxBytes = 64 << 10
	const names = 1024 // 4 links, 5 deep (os.Root follows up to 8 links)
	for i := range names {
		var p strings.Builder
		for d := range 5 {
			p.WriteString("abcd"[i>>(2*d)&3:][:1] + "/")
		}
		if got := serveStatic(s, "GET", "/static/"+p.String()+"empty.txt"); got.Code != 200 {
			t.Fatalf("%s: %d", p.String(), got.Code)
		}
	}
	s.cache.mu.RLock()
	n, bytes := len(s.cache.files), s.cache.bytes
	s.cache.mu.RUnlock()
	t.Logf("%d names of an empty file: %d entries, %d bytes counted", names, n, bytes)
	if n > (64<<10)/1024 || bytes > 64<<10 {
		t.Errorf("%d entries (%d bytes counted) in a cache bounded to 64 KiB", n, bytes)
	}
}

// A file from the cache says it takes ranges, as one from disk does
// (ServeContent's Accept-Ranges), and as nginx says of every file.
func TestCachedFileAdvertisesRanges(t *testing.T) {
	root, _ := staticTree(t)
	s := newTestStatic(t, root)
	for i := range 2 {
		got := serveStatic(s, "GET", "/static/hello.txt")
		if s.cache.lookup("hello.txt", time.Now()) == nil {
			t.Fatal("not cached")
		}
		if ar := got.Header().Get("Accept-Ranges"); ar != "bytes" {
			t.Errorf("request %d: Accept-Ranges %q, want bytes", i+1, ar)
		}
	}
	big := filepath.Join(root, "big.bin")
	os.WriteFile(big, make([]byte, maxCachedFile+1), 0o644)
	if ar := serveStatic(s, "GET", "/static/big.bin").Header().Get("Accept-Ranges"); ar != "bytes" {
		t.Errorf("from disk: Accept-Ranges %q", ar)
	}
}

// A file whose extension names no type gets the type sniffed from its
// content, from the cache as from disk (ServeContent sniffs), whether the
// request is plain or a range.
func TestCachedFileWithoutKnownExtensionIsSniffed(t *testing.T) {
	root, _ := staticTree(t)
	os.WriteFile(filepath.Join(root, "notes.unknownext"), []byte("plain words\n"), 0o644)
	os.WriteFile(filepath.Join(root, "big.unknownext"), []byte(strings.Repeat("plain words\n", maxCachedFile)), 0o644)
	s := newTestStatic(t, root)
	want := "text/plain; charset=utf-8"
	for i := range 2 {
		if ct := serveStatic(s, "GET", "/static/notes.unknownext").Header().Get("Content-Type"); ct != want {
			t.Errorf("request %d for a small file: Content-Type %q, want %q", i+1, ct, want)
		}
	}
	if ct := serveStatic(s, "GET", "/static/notes.unknownext", "Range", "bytes=0-3").Header().Get("Content-Type"); ct != want {
		t.Errorf("a range of the cached file: Content-Type %q", ct)
	}
	if ct := serveStatic(s, "GET", "/static/big.unknownext").Header().Get("Content-Type"); ct != want {
		t.Errorf("a large file from disk: Content-Type %q", ct)
	}
}
