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
	// armed: the watch timer runs for this request (armWatch).
	armed bool
	timer *time.Timer // the watch timer, made at the first arming, then reused
}

func (cr *connReader) setInHandler(v bool) {
	cr.mu.Lock()
	cr.inHandler = v
	if !v && cr.armed {
		// The handler ended before the watch started: a fast answer
		// costs no read-ahead. A firing already under way finds
		// armed false and does nothing.
		cr.armed = false
		cr.timer.Stop()
	}
	cr.mu.Unlock()
}

// watchDelay is how long a handler that waits on its context runs before
// the read-ahead starts watching its client. Most proxied answers come
// sooner (a few ms under load), and then the watch costs them nothing: no
// second goroutine, no read(2), no deadline to end it. A client that
// leaves during a slower answer is noticed this much later than at once;
// nginx notices on its next event for the connection, so tens of ms are
// within what a proxy's client can tell (it has gone), and the upstream
// is abandoned a moment later than it could be.
const watchDelay = 20 * time.Millisecond

// armWatch starts the watch timer for the running handler, once: when it
// fires with the handler still running, the read-ahead starts.
func (cr *connReader) armWatch() {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if !cr.inHandler || cr.armed || cr.watching {
		return
	}
	cr.armed = true
	if cr.timer == nil {
		cr.timer = time.AfterFunc(watchDelay, cr.watchTimeUp)
	} else {
		cr.timer.Reset(watchDelay)
	}
}

func (cr *connReader) watchTimeUp() {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if !cr.armed {
		return // the handler ended first
	}
	cr.armed = false
	cr.startLocked()
}

// stopWatch releases the watch timer when the connection ends.
func (cr *connReader) stopWatch() {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	cr.armed = false
	if cr.timer != nil {
		cr.timer.Stop()
	}
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
	if cr.c.body.framed {
		// The handler may have set one to read the body; the head's
		// was cleared when the head was read.
		cr.c.rwc.SetReadDeadline(time.Time{})
	}
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
	cr.c.rwc.SetReadDeadline(aLongTimeAgo)
	for cr.watching {
		cr.cond.Wait()
	}
	cr.c.rwc.SetReadDeadline(time.Time{})
}

// lost is called when a read fails: the request being served, if any, is
// for a client that is gone.
func (c *conn) lost() {
	if x := c.req; x != nil {
		x.cancel()
	}
}
