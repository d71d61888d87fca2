package h1

import (
	"sync"
	"time"
)

// The watch list holds the requests whose handler waits on its context
// (the proxy always does), in the order they asked, until watchDelay has
// passed: a request whose handler still runs then has its client watched
// by the read-ahead (reader.go). Most proxied answers come sooner, and
// cost no second goroutine, read or deadline.
//
// One timer per server sweeps the list, at most every watchTick, rather
// than a timer per request: resetting a runtime timer per request cost
// about 3 % of the edge's CPU on hello, most of it in waking another
// thread to take the new earliest timer. An entry is dropped when it is
// due, whether or not its handler still runs.

// watchDelay is how long a handler that waits on its context runs before
// its client is watched. A client that leaves during a slower answer is
// noticed this much later (plus up to watchTick) than at once: nginx
// notices on its next event for the connection, and tens of ms are less
// than a gone client can tell; the upstream is abandoned as much later.
// Under the hello load (wrk -t2 -c64, answers in ~5 ms) about 0.5 % of
// requests are still running when it has passed.
const watchDelay = 20 * time.Millisecond

// watchTick bounds how often the list is swept.
const watchTick = 5 * time.Millisecond

type watchEntry struct {
	cr  *connReader
	seq uint64        // the request's arming (connReader.armSeq)
	due time.Duration // since the list's epoch
}

type watchList struct {
	mu      sync.Mutex
	epoch   time.Time // set by the first add: the monotonic clock's origin
	q       []watchEntry
	timer   *time.Timer // sweeps while q is not empty
	pending bool        // the timer is set
}

func (l *watchList) add(cr *connReader, seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.epoch.IsZero() {
		l.epoch = time.Now()
	}
	l.q = append(l.q, watchEntry{cr, seq, time.Since(l.epoch) + watchDelay})
	if l.pending {
		return
	}
	l.pending = true
	if l.timer == nil {
		l.timer = time.AfterFunc(watchDelay, l.sweep)
	} else {
		l.timer.Reset(watchDelay)
	}
}

// sweep takes the due entries off the list and starts the watch of those
// whose handler still runs (watchTimeUp checks, under the reader's lock).
func (l *watchList) sweep() {
	l.mu.Lock()
	now := time.Since(l.epoch)
	i := 0
	for i < len(l.q) && l.q[i].due <= now {
		i++
	}
	due := make([]watchEntry, i) // a few a sweep, ≤ 1/watchTick sweeps a second
	copy(due, l.q)
	n := copy(l.q, l.q[i:])
	clear(l.q[n:]) // no connection kept alive by the list
	l.q = l.q[:n]
	if n > 0 {
		l.timer.Reset(max(l.q[0].due-now, watchTick))
	} else {
		l.pending = false
	}
	l.mu.Unlock()
	// Outside the list's lock: armWatch takes the reader's lock, then
	// the list's.
	for _, e := range due {
		e.cr.watchTimeUp(e.seq)
	}
}
