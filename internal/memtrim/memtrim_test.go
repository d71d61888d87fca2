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
	stop := Start(Options{})
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

// An idle (trimmed) process is trimmed again each time it has allocated
// 2 MiB since; a busy interval ends its idleness, and the next trim needs
// a spell worth it again.
func TestTrimmerRetrimsWhileIdle(t *testing.T) {
	var tr Trimmer
	steps := []struct {
		allocated uint64
		want      Action
	}{
		{1 << 20, Keep},
		{1<<20 + 10<<10, Keep},     // idle from the start: nothing to trim
		{40 << 20, Keep},           // busy
		{40<<20 + 1<<10, Trim},     // quiet after a spell: trim, idle
		{40<<20 + 200<<10, Keep},   // idle, a little allocated
		{41<<20 + 100<<10, Keep},   // a spike under 1 MiB: still idle, 1.1 MiB since
		{42<<20 + 100<<10, Retrim}, // 1 MiB more: 2 MiB since the trim
		{42<<20 + 300<<10, Keep},   // idle
		{44 << 20, Keep},           // busy (1.7 MiB in an interval): no longer idle
		{46 << 20, Keep},           // busy, but no retrim: not idle
		{46<<20 + 1<<10, Keep},     // quiet, but 6 MiB since the trim is no spell
		{80 << 20, Keep},           // busy
		{80<<20 + quiet, Trim},     // quiet: trim
	}
	for i, s := range steps {
		if got := tr.Decide(s.allocated); got != s.want {
			t.Errorf("step %d (allocated %d): %v, want %v", i, s.allocated, got, s.want)
		}
	}
}

var sink [][]byte

// The watcher itself trims a process that allocated a lot and went quiet,
// and calls OnTrim with the heap it held before and after.
func TestStartTrims(t *testing.T) {
	trimmed := make(chan [2]uint64, 4)
	stop := Start(Options{OnTrim: func(before, after uint64) {
		trimmed <- [2]uint64{before, after}
	}})
	defer stop()
	time.Sleep(Interval / 2) // the watcher's first reading, its baseline
	for range 64 {           // 32 MiB, worth a trim
		sink = append(sink, make([]byte, 512<<10))
	}
	sink = nil
	select {
	case tr := <-trimmed:
		t.Logf("heap held from the system: %d kB before the trim, %d kB after", tr[0]>>10, tr[1]>>10)
	case <-time.After(10 * time.Second):
		t.Fatal("no trim 10s after a 32 MiB spell")
	}
}
