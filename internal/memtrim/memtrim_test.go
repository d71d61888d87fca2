package memtrim

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
	"weak"
)

// A busy spell's trim comes in the first quiet window after it (three
// readings): never while the process is busy, never for a small spell,
// and not again until the process has allocated enough anew.
func TestTrimmerDecides(t *testing.T) {
	var tr Trimmer
	const M = 1 << 20
	steps := []struct {
		allocated uint64
		want      Action
	}{
		{1 * M, Keep},               // first reading: a baseline
		{1*M + 10<<10, Keep},        // one reading: no window yet
		{1*M + 20<<10, Keep},        // two
		{1*M + 30<<10, Keep},        // quiet, nothing allocated worth trimming
		{20 * M, Keep},              // busy
		{40 * M, Keep},              // busy
		{40*M + 10<<10, Keep},       // quiet for one reading only: the window holds 20 MiB
		{40*M + 20<<10, Keep},       // quiet for two
		{40*M + 30<<10, Trim},       // quiet for three: trim
		{40*M + 40<<10, Keep},       // still quiet: trimmed already
		{40*M + 100<<10, Keep},      // idle, a little allocated
		{42*M + 50<<10, Keep},       // a spike: not quiet
		{42*M + 60<<10, Keep},       // the window still holds the spike
		{42*M + 70<<10, Keep},       // still
		{42*M + 80<<10, Retrim},     // quiet again, 2 MiB since the trim: a small trim
		{60 * M, Keep},              // busy
		{80 * M, Keep},              // busy
		{80*M + quiet/2, Keep},      // the window holds 20 MiB
		{80*M + quiet/2, Keep},      // and still 20 MiB
		{80*M + quiet, Trim},        // quiet (exactly the threshold)
		{80*M + 2*quiet + 1, Keep},  // a bit over quiet over the window
		{80*M + 2*quiet + 2, Keep},  // still over
		{80*M + 2*quiet + 3, Keep},  // still over
		{80*M + 2*quiet + 4, Keep},  // quiet, but too little since the trim
		{81*M + quiet + 4, Keep},    // 1 MiB at once: not quiet
		{81*M + quiet + 5, Keep},    // the window holds it
		{81*M + quiet + 6, Keep},    // still
		{81*M + quiet + 7, Keep},    // quiet, 1.4 MiB since the trim: not worth it
		{82*M + quiet + 7, Keep},    // 1 MiB more at once
		{82*M + quiet + 8, Keep},    // the window holds it
		{82*M + quiet + 9, Keep},    // still
		{82*M + quiet + 10, Retrim}, // quiet, 2.4 MiB since the trim
	}
	for i, s := range steps {
		if got := tr.Decide(s.allocated); got != s.want {
			t.Errorf("step %d (allocated %d): %v, want %v", i, s.allocated, got, s.want)
		}
	}
}

// scripts/bench.sh measures an idle stack two seconds after its load: each
// process must have trimmed by then, whatever the phase of its readings
// against the end of the load. Readings every Interval during a load
// allocating 4 MiB per reading, then nothing: the trim comes at most a
// second after the last busy reading.
func TestTrimmerTrimsWithinASecondOfTheLoad(t *testing.T) {
	for busyReadings := 1; busyReadings <= 12; busyReadings++ {
		var tr Trimmer
		var allocated uint64 = 1 << 20
		tr.Decide(allocated)
		for range busyReadings {
			allocated += 4 << 20
			if a := tr.Decide(allocated); a != Keep {
				t.Fatalf("busy reading: %v", a)
			}
		}
		// The last reading saw part of the load: the load may have ended
		// just after it, or an instant before it.
		after := 0
		for {
			after++
			allocated += 8 << 10 // an idle process's timers
			a := tr.Decide(allocated)
			if a == Trim && busyReadings*4 >= 16 {
				break
			}
			if a == Retrim && busyReadings*4 < 16 {
				break
			}
			if time.Duration(after)*Interval > 2*time.Second {
				t.Fatalf("after %d busy readings: no trim %v after the load", busyReadings, time.Duration(after)*Interval)
			}
		}
		if d := time.Duration(after) * Interval; d > time.Second {
			t.Errorf("after %d busy readings: the trim comes %v after the last busy reading, more than a second", busyReadings, d)
		}
	}
}

// A process that was trimmed in a lull of a spell (a worker the edge's
// kept connections left alone for a while) and then served a
// smaller spell is trimmed again when it goes quiet: its heap grew by what
// it allocated, at GOGC 400 up to 16 MiB.
func TestTrimmerTrimsASmallSpellAfterALull(t *testing.T) {
	var tr Trimmer
	const M = 1 << 20
	seq := []uint64{0, 20 * M, 20 * M, 20 * M, 20 * M} // busy, then a lull: trimmed
	got := make([]Action, 0, len(seq))
	for _, a := range seq {
		got = append(got, tr.Decide(a))
	}
	if got[4] != Trim {
		t.Fatalf("lull after 20 MiB: %v, want a trim", got)
	}
	for _, a := range []uint64{23 * M, 26 * M, 30 * M} { // 10 MiB more, under worth
		if d := tr.Decide(a); d != Keep {
			t.Fatalf("busy: %v", d)
		}
	}
	tr.Decide(30*M + 1)
	tr.Decide(30*M + 2)
	if d := tr.Decide(30*M + 3); d != Retrim {
		t.Errorf("quiet after 10 MiB since the last trim: %v, want a trim", d)
	}
}

// An idle process that allocates little, and never 2 MiB, is never
// collected: a fresh process keeps the pages it has.
func TestTrimmerLeavesAnIdleProcessAlone(t *testing.T) {
	var tr Trimmer
	var allocated uint64
	for i := range 4000 { // 1000 s of readings, 200 B each: 800 kB
		allocated += 200
		if d := tr.Decide(allocated); d != Keep {
			t.Fatalf("reading %d (%d B allocated): %v", i, allocated, d)
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

type pooled struct{ buf [32 << 10]byte }

// A trim empties the sync.Pools: what a load left in them (the edge's
// connection buffers) is garbage once the trim returns, not kept in the
// pools' victim caches, where one collection leaves it.
func TestReleaseEmptiesPools(t *testing.T) {
	var pool sync.Pool
	var refs []weak.Pointer[pooled]
	for range 8 {
		p := new(pooled)
		refs = append(refs, weak.Make(p))
		pool.Put(p)
	}
	release()
	for i, r := range refs {
		if r.Value() != nil {
			t.Errorf("pooled object %d still reachable after the trim", i)
		}
	}
	runtime.KeepAlive(&pool)
}

// Goroutines that end while the process is quiet (a worker's kept
// connections, closed by the edge after a load) free their stacks and
// buffers without allocating: once enough have ended since the last trim,
// a quiet window asks for a Retrim; a few ending, or many ending during a
// busy spell, do not.
func TestTrimmerRetrimsWhenGoroutinesEnd(t *testing.T) {
	var tr Trimmer
	const M = 1 << 20
	steps := []struct {
		allocated, goroutines uint64
		want                  Action
	}{
		{1 * M, 70, Keep},         // baseline: a load's 64 connections
		{21 * M, 70, Keep},        // busy
		{21 * M, 70, Keep},        // quiet for one reading
		{21 * M, 70, Keep},        // two
		{21 * M, 70, Trim},        // three: the spell's trim
		{21 * M, 60, Keep},        // 10 ended: not worth a collection
		{21 * M, 54, Retrim},      // 16 in all, quiet: the trim again
		{21 * M, 50, Keep},        // 4 since that one
		{21*M + 10<<10, 80, Keep}, // new connections
		{30 * M, 50, Keep},        // a spell, in which 30 end: busy
		{30 * M, 50, Keep},        // quiet for one reading
		{30 * M, 50, Keep},        // two
		{30 * M, 50, Retrim},      // three: 9 MiB since the trim, 30 ended
		{30*M + 10<<10, 50, Keep}, // idle
		{30*M + 20<<10, 50, Keep}, // idle
	}
	for i, s := range steps {
		if got := tr.DecideReading(Reading{Allocated: s.allocated, Goroutines: s.goroutines}); got != s.want {
			t.Errorf("step %d (allocated %d, %d goroutines): %v, want %v", i, s.allocated, s.goroutines, got, s.want)
		}
	}
}

// Free heap pages kept after the trim (stacks freed since) ask for a
// Retrim in a quiet window once they reach freeWorth more than the trim
// left, never in a busy one.
func TestTrimmerRetrimsFreePagesKept(t *testing.T) {
	var tr Trimmer
	const M = 1 << 20
	steps := []struct {
		allocated, free uint64
		want            Action
	}{
		{1 * M, 0, Keep},
		{21 * M, 0, Keep},               // busy
		{21 * M, 0, Keep},               // quiet for one reading
		{21 * M, 0, Keep},               // two
		{21 * M, 0, Trim},               // three
		{21 * M, 0, Keep},               // after the trim: nothing free
		{21 * M, freeWorth / 2, Keep},   // a little free
		{21 * M, freeWorth, Retrim},     // enough
		{21 * M, freeWorth, Keep},       // the retrim could not return it
		{21 * M, freeWorth, Keep},       // so it is not tried again every reading
		{21 * M, 2 * freeWorth, Retrim}, // but more freed since is
		{30 * M, 4 * freeWorth, Keep},   // busy: the heap's free pages are its own
		{30 * M, 4 * freeWorth, Keep},   // quiet for one reading
	}
	for i, s := range steps {
		if got := tr.DecideReading(Reading{Allocated: s.allocated, HeapFree: s.free}); got != s.want {
			t.Errorf("step %d (allocated %d, %d free): %v, want %v", i, s.allocated, s.free, got, s.want)
		}
	}
}
