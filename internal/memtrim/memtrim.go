// Package memtrim gives a process's unused heap back to the system once
// it has gone quiet after a busy spell, and keeps it small while it idles.
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
//
// An idle process still allocates a little (timers, the workers' reports
// to the master, health checks), and with GOGC at 400 that garbage grows
// the heap back towards Go's floor (its 4 MiB minimum heap scales with
// GOGC: 16 MiB) before the next collection: measured, the edge's process
// grew back by 100 kB a second after its trim. So an idle process is
// trimmed again each time it has allocated 2 MiB since the last trim (a
// collection of a small live heap: a millisecond every few seconds).
// GOGC itself is left alone: a lower idle setting would have to be put
// back when the load returns, and the first second of a spell would pay
// for it.
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
	// busy is what an idle (trimmed) process must allocate in an interval
	// to count as busy again: well above an idle edge's spikes (its
	// workers' reports, a health check), well below any real load's
	// megabytes a second.
	busy = 1 << 20
	// idleWorth is what an idle process must have allocated since its last
	// trim to be trimmed again.
	idleWorth = 2 << 20
)

// Trimmer decides when to trim from successive readings of the cumulative
// bytes allocated.
type Trimmer struct {
	last    uint64 // the previous reading
	trimmed uint64 // the reading at the last trim
	started bool
	idle    bool // trimmed, and no busy interval since
}

// Action is what a reading asks for.
type Action int

const (
	// Keep: nothing to do.
	Keep Action = iota
	// Trim: the process went quiet after a spell worth trimming; collect
	// and return the free pages and the binary's mapped pages.
	Trim
	// Retrim: an idle process has allocated enough since its last trim
	// to grow its heap; collect and return the free pages again.
	Retrim
)

// Observe takes a reading and reports whether to trim now.
func (t *Trimmer) Observe(allocated uint64) bool {
	return t.Decide(allocated) == Trim
}

// Decide takes a reading and says what to do.
func (t *Trimmer) Decide(allocated uint64) Action {
	if !t.started {
		t.started = true
		t.last, t.trimmed = allocated, allocated
		return Keep
	}
	delta := allocated - t.last
	t.last = allocated
	switch {
	case t.idle && delta > busy:
		t.idle = false
	case t.idle && allocated-t.trimmed >= idleWorth:
		t.trimmed = allocated
		return Retrim
	case delta <= quiet && allocated-t.trimmed >= worth:
		t.trimmed = allocated
		t.idle = true
		return Trim
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
		sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
		var t Trimmer
		tick := time.NewTicker(Interval)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 {
				switch t.Decide(sample[0].Value.Uint64()) {
				case Trim:
					before := heapMapped()
					debug.FreeOSMemory()
					if o.OnTrim != nil {
						o.OnTrim(before, heapMapped())
					}
				case Retrim:
					debug.FreeOSMemory()
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
