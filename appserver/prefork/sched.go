package prefork

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// A worker whose requests come one per connection runs under the kernel's
// SCHED_BATCH policy; one whose peer keeps connections (the edge) under
// the normal one.
//
// Behind nginx every request is a new connection: nginx connects, then
// writes its packet. The connect wakes an idle worker, and a woken normal
// task preempts the one that woke it when it has run less, which a worker
// that just slept has: so the worker often ran on nginx's CPU between
// nginx's connect and its write, found nothing to read, and waited in
// ppoll (conn.go) while nginx finished; and its write of the response was
// cut short the same way by nginx waking. perf counted 1.7 context
// switches per request in a worker (uWSGI's: 0.3). A SCHED_BATCH task is
// woken the same but does not preempt: nginx finishes its event loop's
// round, writing the request, and the worker runs when nginx sleeps, finds
// the packet there, and serves what queued meanwhile in one go. Measured
// interleaved behind nginx (hello, processes: 2, scripts/ab-appalone.sh,
// busy machine): the setup's CPU per request 154 → 116 µs, 5,700 → 7,200
// rps. The policy changes no priority: against other processes a worker
// gets a normal task's share of the CPU.
//
// Behind the edge a request comes whole on a kept connection, so there is
// no such gap, and there the wake-up's preemption is the latency the
// request waits: under SCHED_BATCH the echo page at 16 connections through
// the three tiers lost a quarter of its rate (9,900 → 7,500 rps). So a
// worker watches the mix (Server.KeptAliveRequests) at each statistics
// tick and switches when it changes.
const (
	schedNormal      = 0          // SCHED_OTHER, linux/sched.h
	schedBatch       = 3          // SCHED_BATCH
	schedResetOnFork = 0x40000000 // SCHED_RESET_ON_FORK, or'd into a policy

	// schedMinRequests is the fewest requests in a tick that say which
	// peer the worker has; with fewer, the policy stays as it is (and
	// matters little).
	schedMinRequests = 16
)

// schedOwnable reports whether this process runs under the normal policy,
// as a worker started from a normal master does: the only one the chooser
// may change. Another (SCHED_IDLE, SCHED_BATCH, a real-time policy) was
// the operator's choice (chrt, systemd's CPUSchedulingPolicy), inherited
// from the master: switching away from it would raise a SCHED_IDLE
// stack's workers to a normal share of the CPU, or drop a real-time one's.
func schedOwnable() bool {
	p, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETSCHEDULER, 0, 0, 0)
	return e == 0 && int(p)&^schedResetOnFork == schedNormal
}

// schedChooser follows a worker's traffic and sets its policy.
type schedChooser struct {
	batch          bool
	requests, kept uint64 // the counters at the last tick
}

// tick looks at the requests since the last tick (requests served, kept of
// them asked for keep-alive, both running totals) and reports the policy
// wanted, and whether it differs from the one set: SCHED_BATCH when under
// a quarter of them came on kept connections, the normal policy when over
// half did; in between it stays.
func (c *schedChooser) tick(requests, kept uint64) (batch, change bool) {
	dr, dk := requests-c.requests, kept-c.kept
	c.requests, c.kept = requests, kept
	if dr < schedMinRequests {
		return c.batch, false
	}
	want := c.batch
	switch {
	case dk*4 < dr:
		want = true
	case dk*2 > dr:
		want = false
	}
	return want, want != c.batch
}

// set applies the policy to every thread of the process and records it.
func (c *schedChooser) set(batch bool) error {
	policy := schedNormal
	if batch {
		policy = schedBatch
	}
	if err := setSchedPolicy(policy); err != nil {
		return err
	}
	c.batch = batch
	return nil
}

// setSchedPolicy puts every thread of this process under policy. The
// policy is per thread; a thread the runtime starts later is a clone of
// one of these and inherits it. A pass that changed a thread is followed
// by another, for a thread started meanwhile by one not yet changed.
func setSchedPolicy(policy int) error {
	for pass := 0; pass < 3; pass++ {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("appserver: worker: listing its threads to set their scheduling policy: %w", err)
		}
		changed := false
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if p, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETSCHEDULER, uintptr(tid), 0, 0); e == 0 && int(p) == policy {
				continue
			}
			var param struct{ priority int32 } // 0: the only one either policy allows
			_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(tid), uintptr(policy), uintptr(unsafe.Pointer(&param)))
			if e != 0 && e != syscall.ESRCH { // ESRCH: the thread has exited
				return fmt.Errorf("appserver: worker: setting scheduling policy %d on thread %d: %w", policy, tid, e)
			}
			changed = true
		}
		if !changed {
			return nil
		}
	}
	return nil
}
