package polls

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// benchPage serves path to an anonymous client (no cookie) b.N times. The
// request's context can be cancelled, as the app server's are (its base
// context, and harakiri's): database/sql and the SQLite driver watch such
// a context per query, which context.Background() would hide.
func benchPage(b *testing.B, path string) {
	a := newTestApp(b, filepath.Join(b.TempDir(), "db.sqlite3"))
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	req := httptest.NewRequest("GET", "http://localhost"+path, nil).WithContext(ctx)
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	for b.Loop() {
		w := httptest.NewRecorder()
		a.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
	// On a shared machine the wall time per op swings with the load; the
	// process's CPU time per op (GC included) is steadier.
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkIndex(b *testing.B)  { benchPage(b, "/polls/") }
func BenchmarkDetail(b *testing.B) { benchPage(b, "/polls/1/") }

// BenchmarkStart is what a fresh worker does before its first answer:
// build the app on a migrated database and serve the index once. It is
// the app's share of `stack up`'s start to first 200.
func BenchmarkStart(b *testing.B) {
	dir := b.TempDir()
	s := DefaultSettings()
	s.SecretKey = "test-secret-key-that-is-long-enough-for-django-w009-0123456789"
	s.AllowedHosts = []string{"localhost"}
	s.Database = filepath.Join(dir, "db.sqlite3")
	if err := Migrate(context.Background(), s, dir, io.Discard); err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", "http://localhost/polls/", nil)
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	for b.Loop() {
		a, err := New(s, dir, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		w := httptest.NewRecorder()
		a.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
		a.Close()
	}
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
}
