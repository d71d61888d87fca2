package static

import (
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// bigVersion writes the n-th version of a file too large for fileCache,
// by rename as deploys do: its own size, time and fill byte.
func bigVersion(t *testing.T, dir, name string, n int) (body, etag string) {
	t.Helper()
	body = strings.Repeat(strconv.Itoa(n%10), maxCachedFile+1+n)
	mt := time.Unix(1_700_000_000+int64(n), 0)
	tmp := filepath.Join(dir, ".tmp-big")
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(tmp, mt, mt)
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
	return body, `"` + strconv.FormatInt(mt.Unix(), 16) + "-" + strconv.FormatInt(int64(len(body)), 16) + `"`
}

// A large file is served from a kept descriptor after its first answer,
// with the header the first one had; replaced by rename, it is served as
// it was within the validity and as it is after it; removed, it is a 404
// once the validity has passed.
func TestLargeFileDescriptorFollowsTheDisk(t *testing.T) {
	root := t.TempDir()
	old, oldTag := bigVersion(t, root, "app.bin", 1)
	s := newTestStatic(t, root)
	s.cache.valid = time.Hour
	first := serveStatic(s, "GET", "/static/app.bin")
	if first.Code != 200 || first.Body.String() != old || first.Header().Get("Etag") != oldTag {
		t.Fatalf("first: %d, %d bytes, ETag %s", first.Code, first.Body.Len(), first.Header().Get("Etag"))
	}
	if e := s.fds.files["app.bin"]; e == nil || len(e.pool) != 1 {
		t.Fatalf("no descriptor kept after the first answer: %+v", e)
	}
	second := serveStatic(s, "GET", "/static/app.bin")
	for _, k := range []string{"Etag", "Last-Modified", "Content-Type", "Content-Length", "Accept-Ranges"} {
		if a, b := first.Header().Get(k), second.Header().Get(k); a != b || a == "" {
			t.Errorf("%s: %q from disk, %q from the kept descriptor", k, a, b)
		}
	}
	if second.Body.String() != old {
		t.Errorf("second answer: %d bytes, want the file whole", second.Body.Len())
	}

	cur, curTag := bigVersion(t, root, "app.bin", 2)
	if got := serveStatic(s, "GET", "/static/app.bin"); got.Body.String() != old || got.Header().Get("Etag") != oldTag {
		t.Errorf("within the validity: ETag %s, %d bytes; want the old file whole", got.Header().Get("Etag"), got.Body.Len())
	}
	s.cache.valid = time.Millisecond
	time.Sleep(5 * time.Millisecond)
	got := serveStatic(s, "GET", "/static/app.bin")
	if got.Body.String() != cur || got.Header().Get("Etag") != curTag || got.Header().Get("Content-Length") != strconv.Itoa(len(cur)) {
		t.Errorf("after the validity: ETag %s, Content-Length %s, %d bytes; want the new file", got.Header().Get("Etag"), got.Header().Get("Content-Length"), got.Body.Len())
	}
	// Rewritten in place (same inode, another size and time).
	if err := os.WriteFile(filepath.Join(root, "app.bin"), []byte(strings.Repeat("z", maxCachedFile+7)), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	if got := serveStatic(s, "GET", "/static/app.bin"); got.Body.Len() != maxCachedFile+7 || got.Header().Get("Content-Length") != strconv.Itoa(maxCachedFile+7) {
		t.Errorf("rewritten in place: Content-Length %s, %d bytes", got.Header().Get("Content-Length"), got.Body.Len())
	}
	os.Remove(filepath.Join(root, "app.bin"))
	time.Sleep(5 * time.Millisecond)
	if got := serveStatic(s, "GET", "/static/app.bin"); got.Code != 404 {
		t.Errorf("removed: %d", got.Code)
	}
	if s.fds.files["app.bin"] != nil || s.fds.idle != 0 {
		t.Errorf("the removed file's descriptors are still kept: %d idle", s.fds.idle)
	}
}

// Requests for one large file at once each get a descriptor of their own
// (sendfile sends from its offset): every answer is the file whole. The
// pools keep no more descriptors than their bound, and Close closes them.
func TestLargeFileDescriptorsConcurrentAndBounded(t *testing.T) {
	root := t.TempDir()
	body, _ := bigVersion(t, root, "a.bin", 3)
	other, _ := bigVersion(t, root, "b.bin", 4)
	before := openFDs(t)
	s, err := New("/static/", root, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s.fds.maxIdle = 3
	var wg sync.WaitGroup
	var mu sync.Mutex
	bad := 0
	for i := range 8 {
		wg.Go(func() {
			name, want := "a.bin", body
			if i%2 == 1 {
				name, want = "b.bin", other
			}
			for range 20 {
				got := serveStatic(s, "GET", "/static/"+name)
				if got.Code != 200 || got.Body.String() != want {
					mu.Lock()
					bad++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if bad > 0 {
		t.Errorf("%d of 160 answers were not the file whole", bad)
	}
	if s.fds.idle > 3 {
		t.Errorf("%d descriptors kept, the bound is 3", s.fds.idle)
	}
	if n := openFDs(t); n > before+1+3 {
		t.Errorf("%d descriptors open after the requests, %d before (the root and 3 kept)", n, before)
	}
	s.Close()
	if n := openFDs(t); n != before {
		t.Errorf("%d descriptors open after Close, %d before", n, before)
	}
}

// A large file not asked for during the inactivity period is no longer
// held open: a deleted or replaced file's space is freed even when its
// name is never asked for again.
func TestLargeFileDescriptorsClosedWhenInactive(t *testing.T) {
	root := t.TempDir()
	bigVersion(t, root, "gone.bin", 5)
	before := openFDs(t)
	s, err := New("/static/", root, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.fds.inactive = 20 * time.Millisecond
	if got := serveStatic(s, "GET", "/static/gone.bin"); got.Code != 200 {
		t.Fatalf("GET: %d", got.Code)
	}
	if n := openFDs(t); n != before+2 {
		t.Fatalf("%d descriptors open after the answer, %d before (the root and the kept one)", n, before)
	}
	os.Remove(filepath.Join(root, "gone.bin"))
	deadline := time.Now().Add(5 * time.Second)
	for openFDs(t) != before+1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := openFDs(t); n != before+1 {
		t.Errorf("%d descriptors open long after the last request, want %d (the root)", n, before+1)
	}
	s.fds.mu.Lock()
	defer s.fds.mu.Unlock()
	if len(s.fds.files) != 0 || s.fds.sweeper != nil {
		t.Errorf("entries left: %d, sweeper armed: %v", len(s.fds.files), s.fds.sweeper != nil)
	}
}
