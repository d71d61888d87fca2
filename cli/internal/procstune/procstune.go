// Package procstune sizes the scheduler of a process that runs the edge
// alone (`stack edge`, the edge child of mode: subprocess) by the app
// servers it talks to on the same host.
//
// Go gives a process a scheduler thread for every CPU, and a thread that
// runs out of work spins a while looking for more before it sleeps (nginx's
// workers sleep in epoll_wait at once). In front of uWSGI on the same host
// that costs: each request's new connection wakes a uWSGI worker under the
// kernel's normal policy, the woken worker preempts whichever edge thread
// holds the CPU it was woken on, spinning or not, and the edge's threads
// were switched out about twice a request (0.9 on one thread), uWSGI's
// workers slept and woke 0.86 times a request (0.46). Measured on 2 CPUs,
// wrk -t2 -c64, hello, `stack edge` in front of Debian's uWSGI with 2
// workers, interleaved rounds on a busy machine: 0.71-0.92× nginx's rate
// on one thread against 0.39-0.66× on two; the edge and uWSGI's CPU per
// request 43-54 µs against 52-81 (nginx and uWSGI 38-42). In front of this
// project's appserver the opposite holds (its workers run under
// SCHED_BATCH and do not preempt the thread that woke them; the
// connections are kept): two threads gave 1.2× the rate of one, in 5
// rounds of 6.
//
// So the tuner reads the edge's census of those answers
// (transport.Census) once a second: once two thirds of a busy second's
// answers came from servers that close their connection (uWSGI, or
// anything that does not keep it), the process runs on half its CPUs (at
// least one); once two thirds came from servers that keep it, on all of
// them. A second
// with fewer than busyPerSecond answers changes nothing. GOMAXPROCS in
// the environment turns the tuner off, as does a single CPU.
package procstune

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"time"
)

// busyPerSecond is the least number of answers in a second for the
// second to count: below it the scheduler's threads have time to spare.
const busyPerSecond = 500

// Counts reads the census: answers on connections the server kept, and
// on ones it closed, since the start.
type Counts func() (kept, closed uint64)

// Tuner runs the process on half its CPUs or all of them, by Counts.
type Tuner struct {
	counts Counts
	full   int // the scheduler's threads at the start
	every  time.Duration
	logger *slog.Logger
	set    func(n int) // runtime.GOMAXPROCS, or the default back
	procs  func() int  // the current setting
}

// New returns a tuner of this process reading counts, or nil when it has
// nothing to do: GOMAXPROCS set in the environment, or a single CPU.
func New(counts Counts, logger *slog.Logger) *Tuner {
	full := runtime.GOMAXPROCS(0)
	if os.Getenv("GOMAXPROCS") != "" || full < 2 {
		return nil
	}
	return &Tuner{counts: counts, full: full, every: time.Second, logger: logger,
		set: func(n int) {
			if n == full {
				runtime.SetDefaultGOMAXPROCS() // and the runtime follows a CPU limit again
				return
			}
			runtime.GOMAXPROCS(n)
		},
		procs: func() int { return runtime.GOMAXPROCS(0) }}
}

// Run tunes until ctx ends, then leaves the process on all its CPUs.
func (t *Tuner) Run(ctx context.Context) error {
	tk := time.NewTicker(t.every)
	defer tk.Stop()
	defer func() {
		if t.procs() != t.full {
			t.set(t.full)
		}
	}()
	lastKept, lastClosed := t.counts()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tk.C:
		}
		kept, closed := t.counts()
		dk, dc := kept-lastKept, closed-lastClosed
		lastKept, lastClosed = kept, closed
		if want := Decide(dk, dc, t.procs(), t.full); want != t.procs() {
			t.set(want)
			t.logger.Info("edge: scheduler threads set by how the app servers on this host answer", "threads", want, "cpus", t.full,
				"answers_on_kept_connections", dk, "answers_then_closed", dc)
		}
	}
}

// Decide is the number of scheduler threads for the next second, given
// the last one's answers on kept and closed connections, the current
// number and the full one: half (at least one) once closing servers gave
// two thirds of a busy second's answers, all once keeping ones did, else
// the current number (a mix in between does not flip it every second).
func Decide(kept, closed uint64, current, full int) int {
	switch {
	case kept+closed < busyPerSecond:
		return current
	case closed >= 2*kept:
		return max(1, full/2)
	case kept >= 2*closed:
		return full
	default:
		return current
	}
}
