package h1

import (
	"time"
)

// Deadlines without a runtime call per request. Setting a socket's
// deadline is a runtime timer operation (a lock, the timer heap, often
// the wake-up of another thread); the server used to make five a request:
// the keep-alive wait's, the head's and its clearing, and the handler's
// write deadline (the edge's send_timeout) and its clearing. Now:
//
//   - the keep-alive wait's deadline is moved only when the one set is
//     more than 1/32 of the wait short of it (closeEnough): under a steady
//     load, every second or two, not at every request;
//   - the head's is set only if the head needs a read(2) of its own, that
//     is when it did not come whole with the wait's read (connReader.Read);
//   - a read deadline left on the socket from the wait is cleared before a
//     read that must not have it: a body's, the read-ahead's;
//   - a handler's write deadline is moved only when the one set is more than
//     1/32 of its time short of it, and is not cleared when the request
//     ends but before the next response's first write, if that request
//     sets none (connWriter).
//
// So a timeout may come up to 1/32 of its length early, never late.

// closeEnough reports whether deadline cur, already set, can stand for
// want: at most 1/32 of the time to want earlier, never later. A zero or
// past want is never approximated.
func closeEnough(cur, want, now time.Time) bool {
	if want.IsZero() || cur.IsZero() {
		return want.IsZero() && cur.IsZero()
	}
	early := want.Sub(cur)
	return early >= 0 && early <= want.Sub(now)/32
}

// setReadDeadlineLocked sets the connection's read deadline (cr.mu held),
// unless it is set to t already.
func (cr *connReader) setReadDeadlineLocked(t time.Time) error {
	if cr.rdlKnown && cr.rdl.Equal(t) {
		return nil
	}
	cr.rdl, cr.rdlKnown = t, true
	return cr.c.rwc.SetReadDeadline(t)
}

func (cr *connReader) setReadDeadline(t time.Time) error {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return cr.setReadDeadlineLocked(t)
}

// waitDeadline sets the keep-alive wait's read deadline, want, unless the
// one set is close enough to it.
func (cr *connReader) waitDeadline(want, now time.Time) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.rdlKnown && closeEnough(cr.rdl, want, now) {
		return
	}
	cr.setReadDeadlineLocked(want)
}

// startHead and endHead bracket the reading of a head: its deadline is set
// by the first read(2) it needs (connReader.Read), and cleared after it.
// The connection's goroutine only, with no read-ahead running.
func (cr *connReader) startHead() {
	cr.mu.Lock()
	cr.headPending = true
	cr.mu.Unlock()
}

func (cr *connReader) endHead() {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.headPending {
		// The head came whole: no deadline was set for it, and the
		// wait's stays until a read must not have it.
		cr.headPending = false
		return
	}
	cr.setReadDeadlineLocked(time.Time{})
}

// headDeadlineLocked sets the head's read deadline before its first
// read(2) (cr.mu held).
func (cr *connReader) headDeadlineLocked() {
	cr.headPending = false
	var t time.Time // no timeout: Shutdown's wake-up is not for this read either
	if d := cr.c.srv.ReadHeaderTimeout; d > 0 {
		t = time.Now().Add(d)
	}
	cr.setReadDeadlineLocked(t)
}

// setWriteDeadline is the handler's SetWriteDeadline.
func (c *conn) setWriteDeadline(t time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wdlStale.Store(false)
	if !t.IsZero() && closeEnough(c.wdl, t, time.Now()) || t.IsZero() && c.wdl.IsZero() {
		return nil
	}
	c.wdl = t
	return c.rwc.SetWriteDeadline(t)
}

// endWriteDeadline is called when a request whose handler set a write
// deadline ends: the deadline is the next request's to clear, before its
// first write, if that request sets none (net/http clears it at once).
func (c *conn) endWriteDeadline() {
	c.wmu.Lock()
	c.wdlStale.Store(!c.wdl.IsZero())
	c.wmu.Unlock()
}

// clearStaleWriteDeadline clears a previous request's write deadline before
// this response's first write to the socket.
func (c *conn) clearStaleWriteDeadline() {
	if !c.wdlStale.Load() {
		return
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wdlStale.Load() {
		c.wdlStale.Store(false)
		c.wdl = time.Time{}
		c.rwc.SetWriteDeadline(time.Time{})
	}
}

// connWriter is the socket as the connection's buffered writer sees it.
type connWriter struct{ c *conn }

func (cw connWriter) Write(p []byte) (int, error) {
	cw.c.clearStaleWriteDeadline()
	return cw.c.rwc.Write(p)
}
