package static

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A large file rewritten in place (cp over it, a log, an editor that
// writes into the file) keeps its inode, so the kept descriptor reads the
// new bytes: within the validity it was answered with the old header, a
// complete-looking 200 of the old length carrying the start of the new
// file (a longer file cut at the old length). The header must be the
// descriptor's, whatever the validity.
func TestBrkLargeFileRewrittenInPlaceBetweenRequests(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "grow.bin")
	v1 := strings.Repeat("1", maxCachedFile+100)
	os.WriteFile(p, []byte(v1), 0o644)
	s := newTestStatic(t, root)
	s.cache.valid = time.Hour
	if got := serveStatic(s, "GET", "/static/grow.bin"); got.Body.String() != v1 {
		t.Fatalf("first: %d bytes", got.Body.Len())
	}
	for _, v2 := range []string{
		strings.Repeat("2", maxCachedFile+5000), // longer
		strings.Repeat("3", maxCachedFile+5000), // same size, other bytes
		strings.Repeat("4", maxCachedFile+10),   // shorter
	} {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(v2)
		f.Close()
		// A distinct mtime even on a coarse clock.
		mt := time.Now().Add(time.Duration(len(v2)+int(v2[0])) * time.Second)
		os.Chtimes(p, mt, mt)
		got := serveStatic(s, "GET", "/static/grow.bin")
		cl, _ := strconv.Atoi(got.Header().Get("Content-Length"))
		if got.Code != 200 || got.Body.String() != v2 || cl != len(v2) || got.Header().Get("Etag") != etagOf(t, p) {
			t.Errorf("rewritten in place to %d bytes of %q: %d, Content-Length %d, ETag %s (want %s), %d bytes",
				len(v2), v2[:1], got.Code, cl, got.Header().Get("Etag"), etagOf(t, p), got.Body.Len())
		}
	}
}

func etagOf(t *testing.T, p string) string {
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return etag(fi)
}

// chmod 000 on a large file stops it being served (403) as it does for
// a small one (whose cache re-opens it) and without the kept descriptor:
// the descriptor was opened before, so nothing re-checked the permission
// while the file kept being asked for. Run as root, the open itself
// succeeds, so the test checks that the descriptor is not used.
func TestBrkLargeFileChmodDropsTheDescriptor(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "secret.bin")
	os.WriteFile(p, []byte(strings.Repeat("s", maxCachedFile+1)), 0o644)
	s := newTestStatic(t, root)
	s.cache.valid = time.Hour
	serveStatic(s, "GET", "/static/secret.bin")
	if s.fds.files["secret.bin"] == nil {
		t.Fatal("no descriptor kept")
	}
	os.Chmod(p, 0)
	serveStatic(s, "GET", "/static/secret.bin")
	if e := s.fds.files["secret.bin"]; e != nil && e.fi.Mode().Perm() != 0 {
		t.Errorf("chmod 000: still served from the descriptor opened while it was %v", e.fi.Mode())
	}
}

// A large file's descriptors are closed once it has not been asked for
// during the inactivity period (README: 20 s), so a deleted file's space
// is freed then. The sweep came back a whole period after the one that
// kept an entry asked for just after it, so a file asked for just after a
// sweep stayed open for nearly two periods (24 s after its last request,
// measured on the real edge).
func TestBrkDeletedLargeFileFreedWithinTheInactivityPeriod(t *testing.T) {
	root := t.TempDir()
	bigVersion(t, root, "gone.bin", 6)
	s := newTestStatic(t, root)
	const inactive = time.Second
	s.fds.inactive = inactive
	serveStatic(s, "GET", "/static/gone.bin") // arms the sweep
	time.Sleep(inactive / 10)
	serveStatic(s, "GET", "/static/gone.bin")
	last := time.Now()
	os.Remove(filepath.Join(root, "gone.bin"))
	for {
		s.fds.mu.Lock()
		kept := s.fds.files["gone.bin"] != nil
		s.fds.mu.Unlock()
		if !kept {
			break
		}
		if time.Since(last) > inactive*3/2 {
			t.Fatalf("the deleted file is still held open %v after its last request (inactivity %v)", time.Since(last), inactive)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("closed %v after the last request (inactivity %v)", time.Since(last).Round(time.Millisecond), inactive)
}

// The kept descriptors never take the process's last ones: each location
// kept up to 256, so under a limit of 1024 (`ulimit -n`, a container's,
// a systemd unit's LimitNOFILE) four static locations asked for many
// distinct large files took them all; the edge then refused every
// connection (accept4: too many open files) and answered every static
// file 404, for as long as the files were asked for. Here the limit is
// set just above what the process holds: the files are all served, and
// half the limit is left free.
func TestBrkKeptDescriptorsLeaveTheProcessItsLimit(t *testing.T) {
	root := t.TempDir()
	body := strings.Repeat("x", maxCachedFile+1)
	for i := range 300 {
		os.WriteFile(filepath.Join(root, "f"+strconv.Itoa(i)+".bin"), []byte(body), 0o644)
	}
	var was syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &was); err != nil {
		t.Fatal(err)
	}
	limit := syscall.Rlimit{Cur: uint64(openFDs(t) + 200), Max: was.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &limit); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &was) })
	s := newTestStatic(t, root)
	failed := 0
	for i := range 300 {
		if got := serveStatic(s, "GET", "/static/f"+strconv.Itoa(i)+".bin"); got.Code != 200 || got.Body.Len() != len(body) {
			failed++
		}
	}
	if failed > 0 {
		t.Errorf("%d of 300 files not served under a limit of %d descriptors", failed, limit.Cur)
	}
	if n := openFDs(t); n > int(limit.Cur)/2+4 { // the listing's own and a few the runtime holds
		t.Errorf("%d descriptors open of a limit of %d: the cache keeps more than half", n, limit.Cur)
	}
	t.Logf("%d descriptors kept, %d open of a limit of %d", s.fds.idle, openFDs(t), limit.Cur)
}

// Out of descriptors, a file that is there is not a 404 (which caches
// and crawlers take as gone) but a 503: the edge cannot serve it now.
func TestBrkOutOfDescriptorsIsNotNotFound(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "f.bin"), []byte(strings.Repeat("x", maxCachedFile+1)), 0o644)
	s := newTestStatic(t, root)
	var was syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &was); err != nil {
		t.Fatal(err)
	}
	limit := syscall.Rlimit{Cur: 3, Max: was.Max} // no new descriptor
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &limit); err != nil {
		t.Fatal(err)
	}
	got := serveStatic(s, "GET", "/static/f.bin")
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &was)
	if got.Code != 503 {
		t.Errorf("out of descriptors: %d, want 503", got.Code)
	}
}

// truncatingWriter truncates the file being sent once part of it went.
type truncatingWriter struct {
	*httptest.ResponseRecorder
	path string
}

func (w truncatingWriter) ReadFrom(r io.Reader) (int64, error) {
	n, err := io.CopyN(w.ResponseRecorder, r, 1000)
	if err != nil {
		return n, err
	}
	os.Truncate(w.path, 2000)
	m, err := io.Copy(w.ResponseRecorder, r)
	return n + m, err
}

// A large file truncated while it is sent must not end as a complete
// answer: over HTTP/2 the stream ended cleanly (END_STREAM) after the
// bytes there were, short of its Content-Length (a Go client read
// "unexpected EOF", a client that does not count took it whole). Under a
// server the handler aborts (http.ErrAbortHandler: the stream is reset,
// the connection closed), from a fresh descriptor as from a kept one, a
// range or a 200 after a condition (http.ServeContent) as a plain GET, and
// the descriptor is not leaked.
func TestBrkLargeFileTruncatedWhileSentIsAborted(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "t.bin")
	s := newTestStatic(t, root)
	before := openFDs(t)
	for _, from := range []string{"a fresh descriptor", "a kept descriptor", "a range", "a failed condition"} {
		if from != "a kept descriptor" {
			os.WriteFile(p, []byte(strings.Repeat("t", 4*maxCachedFile)), 0o644)
			s.fds.forget("t.bin")
		} else {
			os.WriteFile(p+".new", []byte(strings.Repeat("u", 4*maxCachedFile)), 0o644)
			os.Rename(p+".new", p)
			s.cache.valid = time.Nanosecond
			serveStatic(s, "GET", "/static/t.bin") // kept
			s.cache.valid = time.Hour
		}
		r := httptest.NewRequest("GET", "/static/t.bin", nil)
		r = r.WithContext(context.WithValue(r.Context(), http.ServerContextKey, &http.Server{}))
		switch from {
		case "a range":
			r.Header.Set("Range", "bytes=10-")
		case "a failed condition":
			r.Header.Set("If-None-Match", `"other"`)
		}
		w := truncatingWriter{httptest.NewRecorder(), p}
		got := func() (v any) {
			defer func() { v = recover() }()
			s.ServeHTTP(w, r)
			return nil
		}()
		if got != http.ErrAbortHandler {
			t.Errorf("truncated while sent from %s: %d bytes of %s, the handler returned %v; want it to abort", from, w.Body.Len(), w.Header().Get("Content-Length"), got)
		}
	}
	s.Close()
	if n := openFDs(t); n != before-1 {
		t.Errorf("%d descriptors open after Close, %d before with the root", n, before)
	}
}
