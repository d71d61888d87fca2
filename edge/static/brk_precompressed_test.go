package static

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// A sibling replaced (renamed into place, as collectstatic --compress
// does) between the check of its size and the read of a small file's
// sibling must never be served cut: the size read must be the size of the
// file opened. Before the fix the size came from a Stat by name and the
// bytes from a later open, so the first bytes of a longer new sibling
// went out as a whole, truncated gzip stream.
func TestPrecompressedSiblingReplacedWhileLoaded(t *testing.T) {
	root := t.TempDir()
	s := newTestStatic(t, root)
	s.cache.valid = time.Nanosecond // every request checks the disk again
	s.SetPrecompressed(true)
	orig := bytes.Repeat([]byte("p { margin: 0 }\n"), 200)
	x := filepath.Join(root, "x.css")
	os.WriteFile(x, orig, 0o644)
	mt := time.Now().Add(-time.Hour)
	os.Chtimes(x, mt, mt)
	// Two valid encodings of x.css of different lengths.
	var short, long bytes.Buffer
	zw := gzip.NewWriter(&short)
	zw.Write(orig)
	zw.Close()
	zw = gzip.NewWriter(&long)
	zw.Extra = bytes.Repeat([]byte("e"), 4000)
	zw.Write(orig)
	zw.Close()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			data := short.Bytes()
			if i%2 == 1 {
				data = long.Bytes()
			}
			tmp := filepath.Join(root, ".tmp")
			os.WriteFile(tmp, data, 0o644)
			os.Chtimes(tmp, mt, mt)
			os.Rename(tmp, x+".gz")
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	deadline := time.Now().Add(time.Second)
	n := 0
	for ; time.Now().Before(deadline); n++ {
		w := serveStatic(s, "GET", "/static/x.css", "Accept-Encoding", "gzip")
		body := w.Body.Bytes()
		if w.Header().Get("Content-Encoding") != "gzip" {
			if !bytes.Equal(body, orig) {
				t.Fatalf("request %d: identity body of %d bytes, want %d", n, len(body), len(orig))
			}
			continue
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err == nil {
			body, err = io.ReadAll(zr)
		}
		if err != nil || !bytes.Equal(body, orig) {
			t.Fatalf("request %d: a broken gzip sibling was served (%d bytes, Content-Length %s, %q): %v", n, w.Body.Len(), w.Header().Get("Content-Length"), w.Body.Bytes()[:min(20, w.Body.Len())], err)
		}
	}
	t.Logf("%d requests while the sibling was replaced", n)
}
