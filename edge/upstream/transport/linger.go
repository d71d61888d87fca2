package transport

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/stack-web/stack/edge/upstream/internal/unixconn"
)

// lingerMax is how long the transport waits, after the head of a response
// that ends at the connection's close, for that close. An app server such
// as uWSGI writes a small answer whole and closes at once, but the edge
// may read between the two: without the wait, the response would go to
// the client as a stream of unknown length (chunked, head and body and
// last chunk in separate writes, through a buffering goroutine) instead
// of one write with its Content-Length, which costs the edge about as
// much again as the request itself. The wait is on the poller, not a
// spin: the close wakes it. A response that does not end so soon (a
// stream, a large body) loses only this much before it streams as it
// did.
const lingerMax = 2 * time.Millisecond

// awaitClose waits, up to linger and while the reader's buffer has
// room, for the server to close the connection after the response head
// in b.br. It reports whether the close came (the whole body is then in
// b.br); an error is a failed read other than the wait's end.
func (b *uwsgiBody) awaitClose(linger time.Duration) (bool, error) {
	b.rd.lingering = true
	b.conn.SetReadDeadline(time.Now().Add(min(linger, b.timeout)))
	var err error
	for n := b.br.Buffered(); n < b.br.Size(); n = b.br.Buffered() {
		if _, err = b.br.Peek(n + 1); err != nil {
			break
		}
	}
	b.rd.lingering = false
	if err == nil {
		// The buffer is full with the body: whole if the server has
		// closed (a body of exactly the buffer's size), else a stream.
		var eof bool
		if eof, err = atEOF(b.conn); eof && err == nil {
			err = io.EOF
		}
	}
	if err == io.EOF {
		// The whole body is in b.br: no read is left to bound.
		return true, nil
	}
	b.rd.arm(b.timeout)
	switch {
	case err == nil || IsTimeout(err):
		return false, nil
	}
	return false, err
}

// lingers reports whether a close-delimited response is worth waiting
// for: not one the app asked to stream (X-Accel-Buffering: no, as nginx
// reads it, or an event stream).
func lingers(h http.Header) bool {
	if v := h["X-Accel-Buffering"]; len(v) > 0 && strings.EqualFold(v[0], "no") {
		return false
	}
	if ct := h["Content-Type"]; len(ct) > 0 && strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct[0])), "text/event-stream") {
		return false
	}
	return true
}

// closesSoon reports whether the server of a close-delimited response has
// closed the connection, or does within lingerMax; *errp is set when the
// wait's read failed. Such a failure comes after the head: the request is
// not sent again (the error does not wrap the reset), and the client gets
// a 502 rather than a body cut short that would look whole.
func (t *UwsgiTransport) closesSoon(conn upstreamConn, b *uwsgiBody, h http.Header, errp *error) bool {
	if eof, err := atEOF(conn); eof || err != nil {
		if err != nil {
			*errp = fmt.Errorf("reading response body from %s: %v", t.Address, err)
		}
		return eof
	}
	if !lingers(h) {
		return false
	}
	linger := t.linger
	if linger == 0 {
		linger = lingerMax
	}
	eof, err := b.awaitClose(linger)
	if err != nil {
		*errp = fmt.Errorf("reading response body from %s: %v", t.Address, err)
	}
	return eof
}

// atEOF reports, without waiting, whether the server has closed its side of
// conn with nothing left to read beyond what was already read from it. An
// error is the connection's (a reset): the peek takes it, so it is
// reported here or lost.
func atEOF(conn upstreamConn) (bool, error) {
	if uc, ok := conn.(interface{ PeekEnd() (bool, error) }); ok {
		return uc.PeekEnd()
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false, nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false, nil
	}
	var eof bool
	rc.Read(func(fd uintptr) bool {
		eof, err = unixconn.PeekEnd(int(fd))
		return true // never wait: nothing to read means the body goes on
	})
	return eof, err
}
