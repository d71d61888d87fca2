package appserver

import (
	"context"
	"sync"
	"sync/atomic"
)

// requestContext is a request's context (a field of its response): the
// harakiri watchdog cancels it, and it ends when the handler returns, as
// net/http's does. context.WithCancel on the server's base context
// costs two allocations and an entry in the base's map of children, added
// and removed under its lock, on every request (4% of a worker's CPU on
// the echo page), although most handlers never look at Done. This one
// makes that cancellable context only when asked for it (Done, or Value,
// which context uses to find a parent to attach a child to); until then
// Err comes from its own state and the base's.
type requestContext struct {
	context.Context // the server's base: deadline, values, its cancellation

	ended atomic.Bool // cancelled: by harakiri, or because the request is over

	mu    sync.Mutex                   // orders the making of inner against cancel
	inner atomic.Pointer[innerContext] // made on demand
}

type innerContext struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func newRequestContext(base context.Context) *requestContext {
	return &requestContext{Context: base}
}

// made returns the cancellable context, making it (cancelled already if
// the request ended) on the first call.
func (c *requestContext) made() *innerContext {
	if in := c.inner.Load(); in != nil {
		return in
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if in := c.inner.Load(); in != nil {
		return in
	}
	ctx, cancel := context.WithCancel(c.Context)
	if c.ended.Load() {
		cancel()
	}
	in := &innerContext{ctx: ctx, cancel: cancel}
	c.inner.Store(in)
	return in
}

func (c *requestContext) Done() <-chan struct{} { return c.made().ctx.Done() }

func (c *requestContext) Err() error {
	if in := c.inner.Load(); in != nil {
		return in.ctx.Err()
	}
	if c.ended.Load() {
		return context.Canceled
	}
	return c.Context.Err()
}

// Value looks the key up in the cancellable context once there is one:
// context.Cause, and a child context looking for a parent to attach to
// (after Done made it), find it there. Until then the base answers.
func (c *requestContext) Value(key any) any {
	if in := c.inner.Load(); in != nil {
		return in.ctx.Value(key)
	}
	if c.ended.Load() { // so that Cause agrees with Err
		return c.made().ctx.Value(key)
	}
	return c.Context.Value(key)
}

// cancel ends the context (harakiri, or the request is over); safe from
// any goroutine, any number of times.
func (c *requestContext) cancel() {
	c.ended.Store(true)
	c.mu.Lock()
	in := c.inner.Load()
	c.mu.Unlock()
	if in != nil {
		in.cancel()
	}
}
