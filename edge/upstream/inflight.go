package upstream

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// inFlight caps the requests on one server's connections at once
// (max_in_flight); the others wait here, first come first served, as
// uWSGI's listen queue holds them in the kernel until a worker is free.
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
// A wait is bounded: by the app server's queue_timeout when the edge knows
// it (503 with Retry-After, the answer the app server gives to a request
// that waited that long), else by read_timeout (504, as the time in
// uWSGI's listen queue counts against nginx's uwsgi_read_timeout). A
// client that goes away leaves the queue.
//
// The zero value (max 0) caps nothing and costs nothing.
type inFlight struct {
	max int // 0: no cap

	mu      sync.Mutex
	n       int             // slots held
	waiters []chan struct{} // in arrival order; closed when handed a slot
}

// acquire takes a slot for a request to server addr, waiting for one in
// turn. It fails when ctx ends or the wait reaches its bound (see the
// type's comment); then no slot is held.
func (q *inFlight) acquire(ctx context.Context, cfg *Config, addr string) error {
	if q.max == 0 {
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

	bound := cfg.ReadTimeout
	if cfg.QueueTimeout > 0 {
		bound = cfg.QueueTimeout
	}
	t := time.NewTimer(bound)
	defer t.Stop()
	var err error
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		err = fmt.Errorf("waiting for one of the %d requests in flight to %s: %w", q.max, addr, ctx.Err())
	case <-t.C:
		if cfg.QueueTimeout > 0 {
			err = &busyError{fmt.Errorf("queue_timeout (%v) fired waiting in the edge for one of the %d requests in flight to %s", bound, q.max, addr)}
		} else {
			err = &upstreamTimeoutError{fmt.Errorf("read_timeout (%v) fired waiting in the edge for one of the %d requests in flight to %s", bound, q.max, addr)}
		}
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

// release gives back a slot taken by acquire: to the first waiter, if any.
func (q *inFlight) release() {
	if q.max == 0 {
		return
	}
	q.mu.Lock()
	q.releaseLocked()
	q.mu.Unlock()
}

func (q *inFlight) releaseLocked() {
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
func (q *inFlight) leaveLocked(ready chan struct{}) {
	for i, w := range q.waiters {
		if w == ready {
			copy(q.waiters[i:], q.waiters[i+1:])
			q.waiters[len(q.waiters)-1] = nil
			q.waiters = q.waiters[:len(q.waiters)-1]
			return
		}
	}
}

// state returns the slots held and the requests waiting (tests).
func (q *inFlight) state() (held, waiting int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n, len(q.waiters)
}

// holdUntilBody keeps the slot of resp's request until its body is closed,
// when the body is of a known length (the connection then goes back to the
// pool for the next request); otherwise (a streamed or upgraded response,
// or none) it gives the slot back now.
func (q *inFlight) holdUntilBody(resp *http.Response) {
	if q.max == 0 {
		return
	}
	if resp.StatusCode == http.StatusSwitchingProtocols || resp.ContentLength < 0 || resp.Body == nil || resp.Body == http.NoBody {
		q.release()
		return
	}
	resp.Body = &slotBody{ReadCloser: resp.Body, q: q}
}

// slotBody gives its request's slot back when closed.
type slotBody struct {
	io.ReadCloser
	q    *inFlight
	done atomic.Bool
}

func (b *slotBody) Close() error {
	if b.done.CompareAndSwap(false, true) {
		b.q.release()
	}
	return b.ReadCloser.Close()
}

// validateInFlight checks max_in_flight.
func (c Config) validateInFlight(key string) []error {
	if c.MaxInFlight < 0 {
		return []error{fmt.Errorf("%s.max_in_flight: %d; must be 0 (no cap) or more", key, c.MaxInFlight)}
	}
	return nil
}
