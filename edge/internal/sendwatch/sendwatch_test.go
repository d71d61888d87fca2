package sendwatch

import (
	"testing"
	"time"
)

// The watchdog looks every quarter of send_timeout, but never more often
// than every millisecond: a send_timeout of a few nanoseconds, which the
// config accepts, made its timer fire back to back.
func TestSendWatchdogPeriodHasAFloor(t *testing.T) {
	for _, c := range []struct{ timeout, want time.Duration }{
		{3, time.Millisecond},
		{time.Millisecond, time.Millisecond},
		{60 * time.Second, 15 * time.Second},
	} {
		if got := (&Watchdog{timeout: c.timeout}).every(); got != c.want {
			t.Errorf("send_timeout %v: looks every %v, want %v", c.timeout, got, c.want)
		}
	}
}
