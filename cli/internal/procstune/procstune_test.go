package procstune

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	for _, c := range []struct {
		kept, closed     uint64
		current, full, w int
	}{
		{0, 5000, 4, 4, 2},    // in front of uWSGI: half
		{0, 5000, 2, 2, 1},    // at least one
		{0, 5000, 1, 3, 1},    // 3 CPUs: one
		{5000, 0, 1, 2, 2},    // in front of the appserver: all
		{4000, 2000, 1, 2, 2}, // two thirds kept
		{3000, 2000, 1, 2, 1}, // a mix keeps the current number
		{2000, 4000, 2, 2, 1}, // two thirds closed
		{2000, 3000, 2, 2, 2}, // a mix, either way
		{0, 100, 2, 2, 2},     // a quiet second changes nothing
		{100, 0, 1, 2, 1},     // either way
		{250, 250, 1, 2, 1},   // busy, even: unchanged
	} {
		if got := Decide(c.kept, c.closed, c.current, c.full); got != c.w {
			t.Errorf("Decide(%d kept, %d closed, current %d, full %d) = %d, want %d", c.kept, c.closed, c.current, c.full, got, c.w)
		}
	}
}

// The tuner follows the census second by second and leaves the process on
// all its CPUs when it stops.
func TestTunerFollowsTheCensus(t *testing.T) {
	var mu sync.Mutex
	var kept, closed uint64
	procs, sets := 2, []int{}
	tu := &Tuner{full: 2, every: 5 * time.Millisecond, logger: slog.New(slog.DiscardHandler),
		counts: func() (uint64, uint64) { mu.Lock(); defer mu.Unlock(); return kept, closed },
		set:    func(n int) { mu.Lock(); defer mu.Unlock(); procs = n; sets = append(sets, n) },
		procs:  func() int { mu.Lock(); defer mu.Unlock(); return procs }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tu.Run(ctx) }()
	waitFor := func(want int, add func()) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			mu.Lock()
			add()
			p := procs
			mu.Unlock()
			if p == want {
				return
			}
		}
		t.Fatalf("the tuner did not set %d threads (sets %v)", want, sets)
	}
	waitFor(1, func() { closed += 100 }) // uWSGI's answers
	waitFor(2, func() { kept += 100 })   // the appserver's
	waitFor(1, func() { closed += 200 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if procs != 2 {
		t.Errorf("stopped on %d threads, want all 2 back (sets %v)", procs, sets)
	}
}

// GOMAXPROCS in the environment is the operator's choice: no tuner.
func TestNoTunerWithGOMAXPROCSSet(t *testing.T) {
	t.Setenv("GOMAXPROCS", "2")
	if tu := New(func() (uint64, uint64) { return 0, 0 }, slog.New(slog.DiscardHandler)); tu != nil {
		t.Error("New made a tuner with GOMAXPROCS set")
	}
}
