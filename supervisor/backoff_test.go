package supervisor

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A child that ran a while and died is started again at once, as
// supervisord does; it waited the half second of a crash loop's first
// back-off, which for a tier child of mode: subprocess is half a second more
// that every client waits in its sockets' queues. One that dies again
// quickly still waits.
func TestProcessThatRanAWhileRestartsAtOnce(t *testing.T) {
	starts := filepath.Join(t.TempDir(), "starts")
	// Runs 1 and 2 last 0.4 s (longer than stable), run 3 dies at once, run 4 stays up.
	script := `date +%s.%N >> "$1"; n=$(wc -l < "$1")
case $n in 1|2) sleep 0.4; exit 3;; 3) exit 3;; esac
while :; do sleep 0.05; done`
	at := startTimes(t, &Process{Name: "p", Command: []string{"sh", "-c", script, "sh", starts}, Restart: "always", Output: io.Discard,
		stable: 200 * time.Millisecond}, starts, 4)
	for i, want := range []struct{ min, max float64 }{{0.4, 0.7}, {0.4, 0.7}, {0.5, 1.0}} {
		if gap := at[i+1] - at[i]; gap < want.min || gap > want.max {
			t.Errorf("start %d came %.2fs after start %d, want %.1f-%.1fs", i+2, gap, i+1, want.min, want.max)
		}
	}
}

// A child with MaxBackoff that keeps dying at once is started again after
// at most that long, not after a back-off doubling to 30 s (0.5, 1, 2, 4
// s before the fifth start): a tier child's clients wait meanwhile.
func TestMaxBackoffCapsTheCrashLoop(t *testing.T) {
	starts := filepath.Join(t.TempDir(), "starts")
	at := startTimes(t, &Process{Name: "p", Command: []string{"sh", "-c", `date +%s.%N >> "$1"; exit 3`, "sh", starts}, Restart: "always",
		Output: io.Discard, MaxBackoff: 150 * time.Millisecond}, starts, 5)
	for i := 1; i < 5; i++ {
		if gap := at[i] - at[i-1]; gap > 0.6 {
			t.Errorf("start %d came %.2fs after start %d, want at most the 0.15 s cap (and the start's own time)", i+1, gap, i)
		}
	}
}

// startTimes supervises p, whose every start appends the time to the file
// starts, until it has started n times, stops it and returns the first n
// start times (seconds).
func startTimes(t *testing.T, p *Process, starts string, n int) []float64 {
	t.Helper()
	s := &Supervisor{Logger: quiet, ShutdownTimeout: 5 * time.Second}
	s.AddProcess(p)
	trigger := make(chan struct{})
	s.Add(func() error { <-trigger; return nil }, func(error) {})
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	var at []float64
	waitFor(t, "start "+strconv.Itoa(n), func() bool {
		b, _ := os.ReadFile(starts)
		at = at[:0]
		for _, l := range strings.Fields(string(b)) {
			v, _ := strconv.ParseFloat(l, 64)
			at = append(at, v)
		}
		return len(at) >= n
	})
	close(trigger)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return at[:n]
}
