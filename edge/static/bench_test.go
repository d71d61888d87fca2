package static

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// benchWriter is a ResponseWriter that keeps nothing: its header is
// cleared for each request, as net/http gives each one a fresh map, and a
// body sent through ReadFrom (sendfile's way) is counted without being
// read, so that what is measured is the handler, not a copy.
type benchWriter struct {
	h    http.Header
	code int
	n    int64
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(code int)        { w.code = code }
func (w *benchWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }
func (w *benchWriter) ReadFrom(r io.Reader) (int64, error) {
	if lr, ok := r.(*io.LimitedReader); ok {
		w.n += lr.N
		return lr.N, nil
	}
	return io.Copy(io.Discard, r)
}

// The handler's own cost for a small cached file, a 1 MiB file from disk
// and a 304 (go test -bench Handler -benchmem ./edge/static/).
func BenchmarkHandler(b *testing.B) {
	root := b.TempDir()
	os.WriteFile(filepath.Join(root, "1k.css"), make([]byte, 1<<10), 0o644)
	os.WriteFile(filepath.Join(root, "1m.bin"), make([]byte, 1<<20), 0o644)
	s, err := New("/static/", root, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	run := func(b *testing.B, r *http.Request, code int) {
		w := &benchWriter{h: http.Header{}}
		s.ServeHTTP(w, r) // warm the cache
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			w.code = 0
			s.ServeHTTP(w, r)
			if w.code != code {
				b.Fatalf("status %d, want %d", w.code, code)
			}
		}
	}
	b.Run("1KiB-cached", func(b *testing.B) {
		run(b, httptest.NewRequest("GET", "/static/1k.css", nil), 200)
	})
	b.Run("1MiB", func(b *testing.B) {
		run(b, httptest.NewRequest("GET", "/static/1m.bin", nil), 200)
	})
	b.Run("304", func(b *testing.B) {
		w := &benchWriter{h: http.Header{}}
		s.ServeHTTP(w, httptest.NewRequest("GET", "/static/1k.css", nil))
		r := httptest.NewRequest("GET", "/static/1k.css", nil)
		r.Header.Set("If-None-Match", w.h.Get("Etag"))
		run(b, r, 304)
	})
}
