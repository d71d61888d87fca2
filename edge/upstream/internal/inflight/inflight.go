// Package inflight caps the requests on an upstream server's connections
// at once and queues the rest in arrival order (max_in_flight).
package inflight

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Cap caps the requests on one server's connections at once (an
// upstream's max_in_flight); the others wait here, first come first
// served, as uWSGI's listen queue holds them in the kernel until a worker
// is free.
//
// With kept connections and no cap, every request the edge has is at once
// on a connection to a worker, 32 of them per worker under 64 clients, and
// a worker runs them in the order its scheduler finds them. Held in the
// edge, a request goes to a worker when an in-flight one is answered, in
// arrival order. Measured interleaved at wrk -c64 through the three tiers
// (hello, 2 workers, a busy machine), 16 cut p99 to 0.73-0.81x but cost
// 0.85x the rate and 1.11-1.18x the CPU per request (each hand-over wakes
// a parked goroutine, and the workers batch less); a runtime trace put the
// waiting in the edge's own run queue, not the workers'. So it is off by
// default, for a user who puts the tail before the throughput.
//
// A slot is held until the response's body is closed (its connection goes
// back to the pool then) when the body has a known length; a streamed,
// upgraded (SSE, WebSocket) or bodiless response gives it back at its
// head, so that it does not keep a slot for its life.
//
// A wait is bounded by its caller (the upstream's queue_timeout or
// read_timeout), and a client that goes away leaves the queue.
//
// A nil *Cap caps nothing and costs nothing.
type Cap struct {
	max int

	mu      sync.Mutex
	n       int             // slots held
	waiters []chan struct{} // in arrival order; closed when handed a slot
}

// New returns a cap of max requests at once, or nil (no cap) for 0.
func New(max int) *Cap {
	if max <= 0 {
		return nil
	}
	return &Cap{max: max}
}

// Max is the cap (0 for nil).
func (q *Cap) Max() int {
	if q == nil {
		return 0
	}
	return q.max
}

// ErrWaitBound is Acquire's error when its wait reached its bound.
var ErrWaitBound = errors.New("the wait's bound was reached")

// Acquire takes a slot, waiting for one in turn for at most bound. It
// fails with ctx's error when ctx ends, or ErrWaitBound; then no slot is
// held.
func (q *Cap) Acquire(ctx context.Context, bound time.Duration) error {
	if q == nil {
		return nil
	}
	q.mu.Lock()
	if q.n < q.max && len(q.waiters) == 0 {
		q.n++
		q.mu.Unlock()
		return nil
	}
	ready := make(chan struct{})
	q.waiters = append(q.waiters, ready)
	q.mu.Unlock()

	t := time.NewTimer(bound)
	defer t.Stop()
	var err error
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-t.C:
		err = ErrWaitBound
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	select {
	case <-ready:
		// Handed a slot as the wait ended: pass it on.
		q.releaseLocked()
	default:
		q.leaveLocked(ready)
	}
	return err
}

// Release gives back a slot taken by Acquire: to the first waiter, if any.
func (q *Cap) Release() {
	if q == nil {
		return
	}
	q.mu.Lock()
	q.releaseLocked()
	q.mu.Unlock()
}

func (q *Cap) releaseLocked() {
	if len(q.waiters) == 0 {
		q.n--
		return
	}
	next := q.waiters[0]
	q.waiters[0] = nil
	q.waiters = q.waiters[1:]
	close(next) // the slot goes to it: n is unchanged
}

// leaveLocked takes a waiter that gave up out of the queue.
func (q *Cap) leaveLocked(ready chan struct{}) {
	for i, w := range q.waiters {
		if w == ready {
			copy(q.waiters[i:], q.waiters[i+1:])
			q.waiters[len(q.waiters)-1] = nil
			q.waiters = q.waiters[:len(q.waiters)-1]
			return
		}
	}
}

// Free reports whether a request would get a slot at once (true for nil):
// the balancer prefers such a server to one at its cap.
func (q *Cap) Free() bool {
	if q == nil {
		return true
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n < q.max && len(q.waiters) == 0
}

// State returns the slots held and the requests waiting.
func (q *Cap) State() (held, waiting int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n, len(q.waiters)
}

// HoldUntilBody keeps the slot of resp's request until its body is closed,
// when the body is of a known length (the connection then goes back to the
// pool for the next request); otherwise (a streamed or upgraded response,
// or none) it gives the slot back now.
func (q *Cap) HoldUntilBody(resp *http.Response) {
	if q == nil {
		return
	}
	if resp.StatusCode == http.StatusSwitchingProtocols || resp.ContentLength < 0 || resp.Body == nil || resp.Body == http.NoBody {
		q.Release()
		return
	}
	resp.Body = &slotBody{ReadCloser: resp.Body, q: q}
}

// slotBody gives its request's slot back when closed.
type slotBody struct {
	io.ReadCloser
	q    *Cap
	done atomic.Bool
}

// The transport's body may say what is in its buffer (Buffered), hand
// over a body that has all arrived in one piece (Whole), and pool its head
// (ReleaseHead): the forwarder and the response buffering use these to
// write a small response in one write, without a copy or a buffering
// goroutine. The slot's wrapper passes them through, or a capped upstream
// would lose them on every response.

func (b *slotBody) Buffered() int {
	if r, ok := b.ReadCloser.(interface{ Buffered() int }); ok {
		return r.Buffered()
	}
	return 0
}

func (b *slotBody) Whole() ([]byte, bool) {
	if w, ok := b.ReadCloser.(interface{ Whole() ([]byte, bool) }); ok {
		return w.Whole()
	}
	return nil, false
}

func (b *slotBody) ReleaseHead() {
	if h, ok := b.ReadCloser.(interface{ ReleaseHead() }); ok {
		h.ReleaseHead()
	}
}

func (b *slotBody) Close() error {
	if b.done.CompareAndSwap(false, true) {
		b.q.Release()
	}
	return b.ReadCloser.Close()
}
