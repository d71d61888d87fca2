package unixconn

import (
	"os"
	"time"
)

// SetReadDeadlineWithin makes the read deadline fall between earliest
// and latest, keeping the one set when it does already. A connection
// under the poller pays a runtime timer operation (the poll descriptor's
// lock and the timer heap) for every deadline it is given; a kept
// connection given a short deadline before each answer it reads (the
// transport's watch, edge/upstream/watch.go) would pay it at every
// request, when one set a few requests ago still falls in the range.
// Before the first wait a deadline is only a time kept here, and latest
// is kept.
func (c *Conn) SetReadDeadlineWithin(earliest, latest time.Time) error {
	pc := c.polled.Load()
	if pc == nil {
		c.mu.Lock()
		if pc = c.polled.Load(); pc == nil {
			defer c.mu.Unlock()
			if c.closed {
				return &os.PathError{Op: "set deadline", Path: c.path, Err: os.ErrClosed}
			}
			c.rdeadline = latest
			return nil
		}
		c.mu.Unlock()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return &os.PathError{Op: "set deadline", Path: c.path, Err: os.ErrClosed}
	}
	if !c.prdl.IsZero() && !c.prdl.Before(earliest) && !c.prdl.After(latest) {
		return nil
	}
	c.prdl = latest
	return pc.f.SetReadDeadline(latest)
}
