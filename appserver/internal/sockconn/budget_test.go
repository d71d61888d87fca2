package sockconn

import (
	"testing"
	"time"
)

// The first reads' timed-out waits may cost 5% of the time, in bursts of
// waitBurst: one now and then keeps the wait on, a flood turns it off.
func TestWaitBudget(t *testing.T) {
	var b Budget
	if b.spent() {
		t.Fatal("a fresh budget is spent")
	}
	for i := range waitBurst {
		b.spend()
		if b.spent() {
			t.Fatalf("spent after %d timeouts, want %d allowed in a burst", i+1, waitBurst)
		}
	}
	b.spend()
	if !b.spent() {
		t.Fatalf("not spent after %d timeouts in a row", waitBurst+1)
	}
	time.Sleep(firstReadWaitCost + firstReadWaitCost/2)
	if b.spent() {
		t.Errorf("still spent %v later: a timeout's cost is paid for in %v", firstReadWaitCost+firstReadWaitCost/2, firstReadWaitCost)
	}
}
