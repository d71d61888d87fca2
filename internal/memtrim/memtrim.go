// Package memtrim gives a process's unused heap back to the system once
// it has gone quiet after a busy spell.
//
// Under load each tier's heap grows to several times its live data (GOGC
// is 400 by default, see cli), and Go keeps the pages it freed for a later
// spell: the runtime's scavenger returns them only slowly, and only down to
// its own goal. A stack that has served a burst then idles at three times
// the memory it started with. uWSGI's processes, which allocate from C's
// heap, shrink back as they free. Here a watcher reads the runtime's
// allocation counter once an interval; when a process that allocated a lot
// since the last trim allocates next to nothing for a whole interval, it
// collects and returns the free pages at once (debug.FreeOSMemory). A busy
// process never trims, and an idle one trims once per busy spell.
package memtrim

import (
	"runtime/debug"
	"runtime/metrics"
	"time"
)

const (
	// Interval is how often the allocation counter is read.
	Interval = time.Second
	// quiet is what a process may allocate in an interval and still be
	// idle: timers, heartbeats and health checks.
	quiet = 256 << 10
	// worth is how much a process must have allocated since the last trim
	// for a trim to be worth a collection.
	worth = 16 << 20
)

// Trimmer decides when to trim from successive readings of the cumulative
// bytes allocated.
type Trimmer struct {
	last    uint64 // the previous reading
	trimmed uint64 // the reading at the last trim
	started bool
}

// Observe takes a reading and reports whether to trim now.
func (t *Trimmer) Observe(allocated uint64) bool {
	if !t.started {
		t.started = true
		t.last, t.trimmed = allocated, allocated
		return false
	}
	delta := allocated - t.last
	t.last = allocated
	if delta <= quiet && allocated-t.trimmed >= worth {
		t.trimmed = allocated
		return true
	}
	return false
}

// Start watches this process until the returned stop function is called;
// stop waits for the watcher to end.
func Start() (stop func()) {
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
		var t Trimmer
		tick := time.NewTicker(Interval)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 && t.Observe(sample[0].Value.Uint64()) {
				debug.FreeOSMemory()
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
