package edge

import (
	"sync/atomic"

	"github.com/stack-web/stack/edge/upstream"
)

// A bufferedBody is what an upstream.Group clones for each attempt.
var _ upstream.BufferedBody = (*bufferedBody)(nil)

// Clone returns a new reader of the same buffered body, from its start,
// for one attempt at an upstream. Each attempt needs its own: the stdlib
// transport writes the body from a goroutine of its own, which may still
// be reading (or closing) it after RoundTrip has returned, and it closes
// what it was given. The memory and file are shared and released when the
// last reader, the original included, is closed, so a pooled buffer is
// never handed out again while a transport may still read it.
func (b *bufferedBody) Clone() upstream.BufferedBody {
	if b.refs == nil {
		b.refs = new(atomic.Int32)
		b.refs.Store(1)
	}
	b.refs.Add(1)
	return &bufferedBody{mem: b.mem, file: b.file, size: b.size, pool: b.pool, refs: b.refs}
}
