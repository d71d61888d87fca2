package transport

import (
	"context"
	"time"
)

// watchDelay is how long a read from the server may wait before the
// transport asks the request's context to cut it when the client goes
// away. Asking costs an allocation or five and, under the edge's h1 front,
// a read-ahead goroutine on the client's connection for the rest of the
// request; most answers (a hello: a fraction of a millisecond, a loaded
// polls page a few) come before it, and need none of that. A client that
// leaves a slow request is noticed this much later, which nginx's users
// would not notice either. On a kept Unix connection the watch may start
// after half of it (arm).
const watchDelay = 50 * time.Millisecond

// connReader is what a response's bufio.Reader reads from: the server's
// connection, under a read deadline (arm) that watches the client only
// once a read has waited watchDelay. Until then the connection's deadline
// is the watch's: a read that meets it starts watching, sets the read
// deadline proper and reads on, unseen by the parser above.
type connReader struct {
	conn  upstreamConn
	ctx   context.Context
	stop  func() bool // the watch's (context.AfterFunc's); nil until watching
	until time.Time   // the read deadline proper
	short bool        // the connection's deadline is the watch's, before until
	// lingering: the connection's deadline is awaitClose's, whose end is
	// its caller's to take, not a reason to watch the client.
	lingering bool
	// request, if set, is not sent yet: the first Read writes it and
	// waits for the answer in one go (writeReader); sendErr is then the
	// write's error, if it did not all go out.
	request []byte
	sendErr error
}

// writeReader is a connection that writes a request and waits for its
// answer without first trying the read that finds nothing
// (unixconn.Conn.WriteRead).
type writeReader interface {
	WriteRead(w, r []byte) (wn, n int, err error)
}

// arm bounds the reads from now on by timeout.
func (r *connReader) arm(timeout time.Duration) {
	now := time.Now()
	r.until = now.Add(timeout)
	if r.stop == nil && timeout > watchDelay {
		r.short = true
		if c, ok := r.conn.(rangeDeadliner); ok {
			// A kept connection's watch deadline, set a few requests
			// ago, mostly still falls in the second half of the delay:
			// no runtime timer operation at every request. The watch
			// may then start after half the delay: a client gone is
			// noticed no later.
			c.SetReadDeadlineWithin(now.Add(watchDelay/2), now.Add(watchDelay))
			return
		}
		r.conn.SetReadDeadline(now.Add(watchDelay))
		return
	}
	r.short = false
	r.conn.SetReadDeadline(r.until)
	r.watch()
}

func (r *connReader) Read(p []byte) (int, error) {
	if r.sendErr != nil {
		return 0, r.sendErr
	}
	var n int
	var err error
	if w := r.request; w != nil {
		r.request = nil
		var wn int
		wn, n, err = r.conn.(writeReader).WriteRead(w, p)
		if wn == 0 && err != nil && r.short && !r.lingering && IsTimeout(err) {
			// The watch's deadline (arm's, up to watchDelay/2 away) passed
			// before the request went out: watch, set the deadline proper,
			// and send it, as a read that met it after the request would.
			r.short = false
			r.conn.SetReadDeadline(r.until)
			r.watch()
			wn, n, err = r.conn.(writeReader).WriteRead(w, p)
		}
		if err != nil && wn < len(w) {
			r.sendErr = err
			return 0, err // nothing to wait for: the request did not go out
		}
	} else {
		n, err = r.conn.Read(p)
	}
	if n == 0 && err != nil && r.short && !r.lingering && IsTimeout(err) {
		// The server is slow: from now on a client that goes away cuts
		// the wait. The deadline is set first, so that a context already
		// done cuts it at once rather than being overwritten.
		r.short = false
		r.conn.SetReadDeadline(r.until)
		r.watch()
		n, err = r.conn.Read(p)
	}
	return n, err
}

// watch makes the request's context, when done, cut every read and write
// on the connection (the client went away: nobody waits for the answer).
func (r *connReader) watch() {
	if r.stop == nil {
		conn := r.conn
		r.stop = context.AfterFunc(r.ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
		return
	}
	if r.ctx.Err() != nil {
		// The watch has cut the connection already, and a deadline set
		// since (arm's, awaitClose's) undid the cut: cut it again, or
		// the read waits for a server whose answer nobody reads.
		r.conn.SetDeadline(time.Unix(1, 0))
	}
}

// rangeDeadliner is a connection that keeps a read deadline already set
// when it falls in a range (unixconn.Conn).
type rangeDeadliner interface {
	SetReadDeadlineWithin(earliest, latest time.Time) error
}

// unwatch ends the watch; false when it has cut the connection.
func (r *connReader) unwatch() bool {
	if r.stop == nil {
		return true
	}
	return r.stop()
}
