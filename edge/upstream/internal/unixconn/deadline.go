package unixconn

import "time"

// SetReadDeadlineWithin makes the read deadline fall between earliest
// and latest, keeping the one set when it does already. A connection
// under the poller pays a runtime timer operation (the poll descriptor's
// lock and the timer heap) for every deadline it is given; a kept
// connection given a short deadline before each answer it reads (the
// transport's watch, edge/upstream/transport/watch.go) would pay it at
// every request, when one set a few requests ago still falls in the range.
// Before the first wait a deadline is only a time kept here, and latest
// is kept.
func (c *Conn) SetReadDeadlineWithin(earliest, latest time.Time) error {
	if c.polled.Load() != nil {
		c.mu.Lock()
		kept := !c.closed && !c.prdl.IsZero() && !c.prdl.Before(earliest) && !c.prdl.After(latest)
		c.mu.Unlock()
		if kept {
			return nil
		}
	}
	return c.setDeadline(latest, true, false)
}
