package polls

import (
	"context"
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
