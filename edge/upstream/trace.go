package upstream

import (
	"context"
	"time"
)

// Trace records, for the edge's JSON access log, which server answered a
// request and how long it took to answer: nginx's $upstream_addr and
// $upstream_header_time. A request carries one in its context only when
// that log wants it, so the common path looks for it and finds nothing.
type Trace struct {
	// Server is the address of each server tried, ", "-separated as
	// nginx's $upstream_addr ("" when none was).
	Server string
	// Time runs from the first attempt's start to the response head (or
	// the last failure), retries and their pauses included.
	Time time.Duration
}

type traceKey struct{}

// WithTrace returns ctx carrying t, for RoundTrip to fill in.
func WithTrace(ctx context.Context, t *Trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

func traceOf(ctx context.Context) *Trace {
	t, _ := ctx.Value(traceKey{}).(*Trace)
	return t
}

// record adds a tried server to t (nil: nothing to record).
func (t *Trace) record(server string, start time.Time) {
	if t == nil {
		return
	}
	if t.Server == "" {
		t.Server = server
	} else {
		t.Server += ", " + server
	}
	t.Time = time.Since(start)
}
