package upstream

import (
	"context"
	"errors"
	"fmt"

	"github.com/stack-web/stack/edge/upstream/internal/inflight"
	"github.com/stack-web/stack/edge/upstream/transport"
)

// acquireSlot takes a slot of s's in-flight cap (max_in_flight; see
// internal/inflight) for a request, waiting in turn. The wait is bounded
// by the app server's queue_timeout when the edge knows it (503 with
// Retry-After, the answer the app server gives to a request that waited
// that long), else by read_timeout (504, as the time in uWSGI's listen
// queue counts against nginx's uwsgi_read_timeout).
func (u *Group) acquireSlot(ctx context.Context, s *upstreamServer) error {
	if s.slots == nil {
		return nil
	}
	bound := u.cfg.ReadTimeout
	if u.cfg.QueueTimeout > 0 {
		bound = u.cfg.QueueTimeout
	}
	err := s.slots.Acquire(ctx, bound)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, inflight.ErrWaitBound):
		return fmt.Errorf("waiting for one of the %d requests in flight to %s: %w", s.slots.Max(), s.addr, err)
	case u.cfg.QueueTimeout > 0:
		return &busyError{fmt.Errorf("queue_timeout (%v) fired waiting in the edge for one of the %d requests in flight to %s", bound, s.slots.Max(), s.addr)}
	default:
		return &transport.TimeoutError{Err: fmt.Errorf("read_timeout (%v) fired waiting in the edge for one of the %d requests in flight to %s", bound, s.slots.Max(), s.addr)}
	}
}

// validateInFlight checks max_in_flight.
func (c Config) validateInFlight(key string) []error {
	if c.MaxInFlight < 0 {
		return []error{fmt.Errorf("%s.max_in_flight: %d; must be 0 (no cap) or more", key, c.MaxInFlight)}
	}
	return nil
}
