package unixconn

import (
	"errors"
	"os"
	"testing"
	"time"
)

// SetReadDeadlineWithin keeps the poller's read deadline when it falls in
// the range asked, and sets the range's latest when it does not (a
// deadline later than the range, one past, none), before the first wait as
// after it.
func TestUnixConnReadDeadlineWithin(t *testing.T) {
	_, c, _ := connected(t)
	defer c.Close()
	buf := make([]byte, 8)
	// waits reads until its timeout and says how long that took.
	waits := func(what string) time.Duration {
		t.Helper()
		start := time.Now()
		if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%s: read %v, want a timeout", what, err)
		}
		return time.Since(start)
	}

	// Not polled yet: the range's latest is kept, and the first wait,
	// which joins the poller, has it.
	c.SetReadDeadlineWithin(time.Now(), time.Now().Add(100*time.Millisecond))
	if took := waits("before the first wait"); took > 5*time.Second {
		t.Fatalf("the first wait took %v: the range's deadline was lost", took)
	}
	if !c.Polled() {
		t.Fatal("a read that waited did not join the poller")
	}

	// A deadline set in the range is kept: the read times out at it,
	// not at the range's latest, 10 s away.
	c.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
	c.SetReadDeadlineWithin(time.Now().Add(50*time.Millisecond), time.Now().Add(10*time.Second))
	if took := waits("a deadline in the range"); took > 5*time.Second {
		t.Fatalf("the read waited %v: the deadline in the range was not kept", took)
	}

	// A deadline past (this one fired), later than the range, or none, is
	// replaced by the range's latest.
	for _, set := range []time.Time{{}, time.Now().Add(time.Hour)} {
		c.SetReadDeadline(set)
		c.SetReadDeadlineWithin(time.Now(), time.Now().Add(100*time.Millisecond))
		if took := waits("a deadline out of the range"); took > 5*time.Second {
			t.Fatalf("the read after deadline %v waited %v: the range's deadline was not set", set, took)
		}
	}
	c.SetReadDeadlineWithin(time.Now(), time.Now().Add(100*time.Millisecond)) // the last one fired
	if took := waits("after a timeout"); took > 5*time.Second {
		t.Fatalf("the read after a timeout waited %v: the range's deadline was not set", took)
	}

	c.SetReadDeadline(time.Now().Add(time.Minute))
	c.Close()
	if err := c.SetReadDeadlineWithin(time.Now(), time.Now().Add(time.Hour)); err == nil {
		t.Fatal("a closed connection took a deadline")
	}
}
