package memtrim

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

// A trim comes once, in the first quiet interval after a busy spell big
// enough to be worth it; never while busy, never for a small spell, and not
// again until the process has allocated enough anew.
func TestTrimmerDecides(t *testing.T) {
	var tr Trimmer
	steps := []struct {
		allocated uint64
		want      bool
	}{
		{1 << 20, false},                     // first reading: a baseline
		{1<<20 + 100<<10, false},             // quiet, nothing allocated worth trimming
		{40 << 20, false},                    // busy
		{80 << 20, false},                    // busy
		{80<<20 + 10<<10, true},              // quiet after 79 MiB: trim
		{80<<20 + 20<<10, false},             // still quiet: trimmed already
		{81 << 20, false},                    // a small spell (1 MiB) ...
		{81<<20 + 1<<10, false},              // ... is not worth a collection
		{120 << 20, false},                   // busy again
		{120<<20 + quiet, true},              // quiet (exactly the threshold)
		{120<<20 + quiet + quiet + 1, false}, // a bit over quiet: busy
	}
	for i, s := range steps {
		if got := tr.Observe(s.allocated); got != s.want {
			t.Errorf("step %d (allocated %d): trim %v, want %v", i, s.allocated, got, s.want)
		}
	}
}

// The counter the watcher reads exists in this runtime, and Start's stop
// ends its goroutine.
func TestStartStop(t *testing.T) {
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		t.Fatalf("/gc/heap/allocs:bytes is %v here, not a uint64", sample[0].Value.Kind())
	}
	before := runtime.NumGoroutine()
	stop := Start()
	stop()
	// stop returns once the watcher closed its channel; the goroutine ends
	// an instant later (the race detector makes that instant longer).
	after := runtime.NumGoroutine()
	for deadline := time.Now().Add(2 * time.Second); after > before && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
		after = runtime.NumGoroutine()
	}
	if after > before {
		t.Errorf("%d goroutines after stop, %d before Start", after, before)
	}
}
