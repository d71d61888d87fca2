// Package linger is the edge's lingering close (nginx's lingering_close):
// after an answer sent before the request body was read, the connection is
// taken over, its write side shut, and what the client still sends read
// and dropped for a bounded time before the close, so that the client
// reads the answer instead of a reset. It stands alone because it needs
// only the connection and the body's state, not the edge.
package linger

import (
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/stack-web/stack/edge/internal/respbuf"
)

// Lingering close, as nginx's lingering_close: after an answer sent before
// the request body was read (413, 400, 431, 414, an early 404…), the rest of
// the body is still in flight. Closing the socket with unread data makes the
// kernel send a reset, which can destroy the answer before the client reads
// it: clients that write the whole body before reading (Python's
// http.client, most SDKs) then see "connection reset by peer" instead of the
// 413. net/http reads at most 256 KiB of a leftover body and then waits only
// 500 ms. So the edge takes the connection over: it sends the answer, shuts
// its write side (the client sees the end of the answer), then reads and
// drops whatever arrives, for at most lingering_time in total and
// lingering_timeout between reads, and only then closes.

// MaxDrainedByServer is how much of a leftover body net/http reads itself
// (its maxPostHandlerReadBytes) before giving up on the connection.
const MaxDrainedByServer = 256 << 10

// Body records whether the request body was read to its end (or failed:
// a body that failed cannot be drained either).
type Body struct {
	io.ReadCloser
	done bool
}

// Done reports whether the body was read to its end or failed.
func (b *Body) Done() bool { return b.done }

func (b *Body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.done = true
	}
	return n, err
}

// Track wraps r.Body, or returns nil when there is no body.
func Track(r *http.Request) *Body {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	tb := &Body{ReadCloser: r.Body}
	r.Body = tb
	return tb
}

// Closer holds the connections currently lingering, so that CloseAll can
// end them: a hijacked connection is no longer the server's.
type Closer struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	done  bool
}

// NewCloser makes a Closer.
func NewCloser() *Closer {
	return &Closer{conns: map[net.Conn]struct{}{}}
}

// Close sends what w holds, then reads and drops the rest of the request
// until the client closes, pauses longer than gap (lingering_timeout), or
// total (lingering_time) is up. A total of 0 turns lingering off.
func (l *Closer) Close(w http.ResponseWriter, total, gap time.Duration) {
	if total <= 0 {
		return
	}
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil {
		return
	}
	conn, brw, err := rc.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	if !l.add(conn) {
		return
	}
	defer l.remove(conn)
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	bp := respbuf.CopyBuffers.Get().(*[]byte)
	defer respbuf.CopyBuffers.Put(bp)
	deadline := time.Now().Add(total)
	for {
		wait := min(gap, time.Until(deadline))
		if wait <= 0 {
			return
		}
		conn.SetReadDeadline(time.Now().Add(wait))
		if _, err := brw.Read(*bp); err != nil {
			return
		}
	}
}

func (l *Closer) add(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *Closer) remove(c net.Conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// CloseAll ends every lingering connection, and any later one at once.
func (l *Closer) CloseAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done = true
	for c := range l.conns {
		c.Close()
	}
}
