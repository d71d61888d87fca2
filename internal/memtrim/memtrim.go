// Package memtrim gives a process's unused heap back to the system once
// it has gone quiet after a busy spell, and keeps it small while it idles.
//
// Under load each tier's heap grows to several times its live data (GOGC
// is 400 by default, see cli), and Go keeps the pages it freed for a later
// spell: the runtime's scavenger returns them only slowly, and only down to
// its own goal. A stack that has served a burst then idles at three times
// the memory it started with. uWSGI's processes, which allocate from C's
// heap, shrink back as they free. Here a watcher reads the runtime's
// allocation counter a few times a second; when a process that allocated
// a lot since the last trim allocates next to nothing for 750 ms, it
// collects and returns the free pages at once (debug.FreeOSMemory). A
// busy process never trims.
//
// The watcher reads the counter four times a second and calls a process
// quiet when it allocated next to nothing over the last three quarters
// of a second, so the trim comes within a second after a spell ends
// (a whole quiet second, read once a second, took one to two: often too
// late for whoever measures an idle stack two seconds after its load).
// The trim collects twice before returning the free pages: the first
// collection only moves what the sync.Pools hold (the edge's connection
// buffers, 64 connections' worth after a load) to their victim caches,
// the second drops them, and each one halves the stacks of the
// goroutines left idle (the kept upstream connections' servers).
//
// An idle process still allocates a little (timers, the workers' reports
// to the master, the admin's history of its metrics: about 100-200 kB a
// second in the master), and with GOGC at 400 that garbage grows the
// heap back towards Go's floor (its 4 MiB minimum heap scales with GOGC:
// 16 MiB) before the next collection, every page of it touched anew. So
// an idle process is trimmed again each time it has allocated 2 MiB since
// the last trim (two collections of a small live heap: a millisecond or two every
// ten seconds or so), and so is a worker trimmed in a lull of a load
// that then served a smaller spell than a trim needs. GOGC itself is left
// alone: a lower idle setting would have to be put back when the load
// returns, and the first second of a spell would pay for it.
//
// Memory is also freed without allocating: the edge closes the kept
// connections a load left (half a second after it, edge/upstream's idle
// pool), and each worker goroutine that served one ends, its stack and
// buffers (about 14 KB) garbage. When that comes after the trim, nothing
// would collect it while the process idles, so a quiet process whose
// goroutines fell by freedGoroutines since the last trim (from the most
// it had since) is trimmed again. So is one holding freeWorth of free
// heap pages not returned: stacks and spans freed after the trim (the
// edge process was seen holding 300-500 kB of them two seconds after a
// load), which the runtime's background scavenger keeps while the heap is
// under its goal.
//
// What a trim cannot return (measured 2026-11-30 with scripts/idle_pss.sh,
// polls, 2 workers, wrk -c64, Go 1.26): each process holds about 2.5 MB
// more anonymous memory after a load than before it, 8 MB over the three.
// Most is the runtime's own: /memory/classes/metadata/other grows from
// 1.5 to 3.0-3.3 MB (mapped; about 1.6 MB more resident), whatever GOGC
// (100, 200 and 400 alike) and with the green tea collector or without.
// It is persistentalloc'd (256 KB chunks, never unmapped): the blocks of
// the mcentrals' span sets, one or more for each size class in use at the
// load's peak, and the GC's bit arenas. Only a new process drops it. The
// rest is the heap's spans that still hold a live object (unused
// 1.1-1.3 MB, as fresh) and, in the edge, goroutine stacks (0.65 MB
// fresh, 0.8-1.9 MB after: ended goroutines keep a stack of the start
// size, which adapts to the load, on each P's free list; taking them off
// by starting 128 goroutines at a trim moved the stacks to the workers
// without a measured gain). A load on one connection leaves 30 MB, on 64
// 34-36 MB. SQLite's idle connections (1 or 4 readers a worker), the heap
// profile's buckets (GODEBUG=memprofilerate=0 from the start) and
// GODEBUG=gcshrinkstackoff=1 changed nothing measurable.
package memtrim

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

const (
	// Interval is how often the allocation counter is read.
	Interval = 250 * time.Millisecond
	// window is how many successive readings a quiet spell must span:
	// three quarters of a second. With half a second, a worker was seen
	// to trim in the middle of a load (on 2 cores at load 10); a trim
	// costs two collections and the page faults of the heap regrowing.
	window = 3
	// quiet is what a process may allocate over window readings and
	// still be idle (256 KiB a second): timers, heartbeats, health checks
	// and the admin's samples of the metrics.
	quiet = 192 << 10
	// worth is what a process must have allocated since the last trim
	// for the next to be a busy spell's trim, the one logged.
	worth = 16 << 20
	// idleWorth is what a process must have allocated since the last
	// trim for a trim to be worth a collection: at GOGC 400 each byte
	// allocated until the heap reaches Go's 16 MiB floor is a page
	// touched anew. 1 MiB cost an idle stack 0.3% of a core (an idle edge
	// allocates 100-200 kB a second).
	idleWorth = 2 << 20
	// freedGoroutines is how many goroutines must have ended since the
	// last trim for a quiet process to be trimmed again: 16 kept
	// connections' goroutines free about 300 KB in a worker.
	freedGoroutines = 16
	// freeWorth is how much free heap, not returned to the system, a
	// quiet process may hold before it is trimmed again.
	freeWorth = 256 << 10
)

// Trimmer decides when to trim from successive readings of the cumulative
// bytes allocated.
type Trimmer struct {
	last    uint64         // the previous reading
	trimmed uint64         // the reading at the last trim
	recent  [window]uint64 // what the last readings found allocated, oldest first
	seen    int            // how many of recent are readings (up to window)
	started bool
	// most is the most goroutines seen since the last trim.
	most uint64
	// freeBase is the least free heap seen since the last trim, from the
	// reading after it (what the trim could not return, or a retrim would
	// come every reading); baseDue asks the next reading to set it.
	freeBase uint64
	baseDue  bool
}

// Action is what a reading asks for.
type Action int

const (
	// Keep: nothing to do.
	Keep Action = iota
	// Trim: the process went quiet after a busy spell; collect twice
	// (the sync.Pools' contents go) and return the free pages.
	Trim
	// Retrim: the process went quiet (or stayed idle) after allocating a
	// little, or after goroutines ended, since the last trim; collect and
	// return the free pages as Trim does, without a log line.
	Retrim
)

// Reading is what the watcher reads of the runtime each Interval.
type Reading struct {
	Allocated  uint64 // bytes allocated since the process started (/gc/heap/allocs)
	Goroutines uint64 // goroutines alive (runtime.NumGoroutine)
	HeapFree   uint64 // free heap not returned to the system (/memory/classes/heap/free)
}

// Decide takes a reading of the bytes allocated and says what to do. Only
// a quiet window leads to a trim, never a busy one; what it allocated
// since the last trim says which.
func (t *Trimmer) Decide(allocated uint64) Action {
	return t.DecideReading(Reading{Allocated: allocated})
}

// DecideReading is Decide with the rest of a Reading: in a quiet window,
// goroutines that ended since the last trim (their stacks and what they
// held are garbage) or free heap kept ask for a Retrim.
func (t *Trimmer) DecideReading(r Reading) Action {
	allocated, goroutines := r.Allocated, r.Goroutines
	t.most = max(t.most, goroutines)
	if t.baseDue || r.HeapFree < t.freeBase {
		t.freeBase, t.baseDue = r.HeapFree, false
	}
	if !t.started {
		t.started = true
		t.last, t.trimmed = allocated, allocated
		return Keep
	}
	copy(t.recent[:], t.recent[1:])
	t.recent[window-1] = allocated - t.last
	t.last = allocated
	t.seen = min(t.seen+1, window)
	var spell uint64 // allocated over the window
	for _, d := range t.recent {
		spell += d
	}
	if t.seen < window || spell > quiet {
		return Keep
	}
	since := allocated - t.trimmed
	switch {
	case since >= worth:
		t.trimmed, t.most, t.baseDue = allocated, goroutines, true
		return Trim
	case since >= idleWorth || t.most >= goroutines+freedGoroutines || r.HeapFree >= t.freeBase+freeWorth:
		t.trimmed, t.most, t.baseDue = allocated, goroutines, true
		return Retrim
	}
	return Keep
}

// Options tune a watcher.
type Options struct {
	// OnTrim, if set, is called after each trim with the bytes the
	// process had obtained from the system for its heap before and after
	// it (/memory/classes/heap/*, released pages left out).
	OnTrim func(before, after uint64)
}

// Start watches this process until the returned stop function is called;
// stop waits for the watcher to end.
func Start(o Options) (stop func()) {
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		// /sched/goroutines would take the scheduler's lock; NumGoroutine
		// does not.
		sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/memory/classes/heap/free:bytes"}}
		var t Trimmer
		tick := time.NewTicker(Interval)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 {
				r := Reading{Allocated: sample[0].Value.Uint64(), Goroutines: uint64(runtime.NumGoroutine()), HeapFree: uint64Of(sample[1])}
				switch t.DecideReading(r) {
				case Trim:
					before := heapMapped()
					release()
					if o.OnTrim != nil {
						o.OnTrim(before, heapMapped())
					}
				case Retrim:
					// Twice too: the buffers of the goroutines that
					// ended went to sync.Pools (the appserver's).
					release()
				}
			}
			select {
			case <-tick.C:
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		<-ended
	}
}

// release collects twice and returns the free pages to the system. One
// collection moves what each sync.Pool holds to its victim cache, where it
// stays reachable; the second drops it (and halves once more the stacks
// of goroutines left idle with big ones), so the pages it held are free
// when FreeOSMemory returns them.
func release() {
	runtime.GC()
	debug.FreeOSMemory()
}

// uint64Of is s's value, or 0 if this runtime has no such metric.
func uint64Of(s metrics.Sample) uint64 {
	if s.Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s.Value.Uint64()
}

// heapMapped is the heap memory the process holds from the system: live
// and dead objects, stacks and free spans not yet returned.
func heapMapped() uint64 {
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/stacks:bytes"},
	}
	metrics.Read(s)
	var n uint64
	for _, x := range s {
		if x.Value.Kind() == metrics.KindUint64 {
			n += x.Value.Uint64()
		}
	}
	return n
}
