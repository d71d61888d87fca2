package h1

import (
	"net"
	"sync"
	"time"
)

// connReader is the connection as its buffered reader sees it, with the
// read-ahead that notices a client leaving while its request is served
// (as net/http's connReader). Unlike net/http's, which reads one byte
// ahead, it reads as much as a request head usually takes: on a kept-alive
// connection the read-ahead is what receives the next request, and the
// head is then parsed from what it read, without another read(2).
type connReader struct {
	c        *conn
	mu       sync.Mutex
	cond     sync.Cond
	inRead   bool
	aborted  bool   // the read-ahead was ended by abortPendingRead
	watching bool   // a read-ahead goroutine is running
	bgErr    error  // how the last read-ahead failed, if it did (not aborted)
	ahead    []byte // the read-ahead's buffer
	pending  []byte // what it read that was not read from it yet
	// inHandler: the handler runs, so a read-ahead may start (and only
	// then: after it, the connection's goroutine reads).
	inHandler bool
	// armed: the request is on the server's watch list (watch.go),
	// as armSeq; a sweep that finds it there starts the read-ahead.
	armed  bool
	armSeq uint64
	// The read deadline as set through setReadDeadlineLocked (deadline.go),
	// which every read deadline of the connection's is set with.
	rdl      time.Time
	rdlKnown bool
	// headPending: a head is being read, and its deadline is to be set
	// before its first read(2).
	headPending bool
}

func (cr *connReader) setInHandler(v bool) {
	cr.mu.Lock()
	cr.inHandler = v
	// The handler ended before its watch started: a fast answer costs
	// no read-ahead. The watch list's entry is dropped when it is due.
	cr.armed = false
	cr.mu.Unlock()
}

// armWatch puts the running handler's request on the watch list, once:
// if the handler still runs watchDelay later, the read-ahead starts.
func (cr *connReader) armWatch() {
	cr.mu.Lock()
	if !cr.inHandler || cr.armed || cr.watching {
		cr.mu.Unlock()
		return
	}
	cr.armed = true
	cr.armSeq++
	seq := cr.armSeq
	cr.mu.Unlock()
	cr.c.srv.watches.add(cr, seq)
}

// watchTimeUp is the watch list's: the request armed as seq has waited
// watchDelay.
func (cr *connReader) watchTimeUp(seq uint64) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if !cr.armed || cr.armSeq != seq {
		return // the handler ended first
	}
	cr.armed = false
	cr.startLocked()
}

// readAheadSize fits the heads of most requests.
const readAheadSize = 2048

// aLongTimeAgo is a deadline in the past: it ends a blocked read at once.
var aLongTimeAgo = time.Unix(1, 0)

func (cr *connReader) Read(p []byte) (int, error) {
	cr.mu.Lock()
	if cr.watching {
		// A read-ahead a late body reader started: end it first.
		cr.abortLocked()
	}
	if cr.inRead {
		cr.mu.Unlock()
		panic("h1: concurrent read on a connection")
	}
	if len(p) == 0 {
		cr.mu.Unlock()
		return 0, nil
	}
	if len(cr.pending) > 0 {
		n := copy(p, cr.pending)
		cr.pending = cr.pending[n:]
		cr.mu.Unlock()
		return n, nil
	}
	if cr.headPending {
		cr.headDeadlineLocked()
	}
	cr.inRead = true
	cr.mu.Unlock()
	n, err := cr.c.rwc.Read(p)
	cr.mu.Lock()
	cr.inRead = false
	cr.mu.Unlock()
	if err != nil {
		cr.c.lost()
	}
	cr.cond.Broadcast()
	return n, err
}

// takeOver ends the read-ahead for a hijack and returns what was read
// past the request (the buffered reader's bytes, then the read-ahead's),
// which the hijacker gets first.
func (cr *connReader) takeOver() []byte {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	cr.abortLocked()
	cr.c.hijacked = true
	br := cr.c.br
	buffered, _ := br.Peek(br.Buffered())
	return append(append([]byte(nil), buffered...), cr.pending...)
}

// startLocked starts the read-ahead, unless the next request's bytes are
// already here or the handler has returned.
func (cr *connReader) startLocked() {
	if !cr.inHandler || cr.c.hijacked || cr.inRead || len(cr.pending) > 0 || cr.c.br.Buffered() > 0 {
		return
	}
	cr.inRead, cr.watching = true, true
	// The keep-alive wait's, or one the handler set to read the body:
	// neither is for the watch.
	cr.setReadDeadlineLocked(time.Time{})
	if cr.ahead == nil {
		cr.ahead = make([]byte, readAheadSize)
	}
	go cr.backgroundRead()
}

func (cr *connReader) backgroundRead() {
	n, err := cr.c.rwc.Read(cr.ahead)
	cr.mu.Lock()
	cr.pending = cr.ahead[:n]
	if ne, ok := err.(net.Error); ok && cr.aborted && ne.Timeout() {
		// Ended by abortPendingRead: the client is still there.
	} else if err != nil {
		cr.bgErr = err
		cr.c.lost()
	}
	cr.aborted, cr.inRead, cr.watching = false, false, false
	cr.mu.Unlock()
	cr.cond.Broadcast()
}

// awaitBackgroundRead waits for the read-ahead, if one runs, to end, and
// reports whether the connection is still good to read from.
func (cr *connReader) awaitBackgroundRead() bool {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	for cr.watching {
		cr.cond.Wait()
	}
	if cr.bgErr != nil && len(cr.pending) == 0 {
		return false
	}
	cr.bgErr = nil
	return true
}

// abortPendingRead ends the read-ahead, if one runs, and waits for it.
func (cr *connReader) abortPendingRead() {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	cr.abortLocked()
}

func (cr *connReader) abortLocked() {
	if !cr.watching {
		return
	}
	cr.aborted = true
	cr.setReadDeadlineLocked(aLongTimeAgo)
	for cr.watching {
		cr.cond.Wait()
	}
	cr.setReadDeadlineLocked(time.Time{})
}

// lost is called when a read fails: the request being served, if any, is
// for a client that is gone.
func (c *conn) lost() {
	if x := c.req; x != nil {
		x.cancel()
	}
}
