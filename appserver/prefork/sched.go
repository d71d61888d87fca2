package prefork

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// A worker runs under the kernel's SCHED_BATCH policy, whoever its peer.
// The policy changes no priority (against other processes a worker gets a
// normal task's share of the CPU); it changes only that a woken worker
// does not preempt the task running on the CPU it is woken on.
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
// rps.
//
// Behind the edge the same preemption cuts the edge short: its write of a
// request wakes a worker, which took the edge's CPU at the end of that
// write, in the middle of the edge's round over its ready connections.
// Under the normal policy the edge was switched out involuntarily 0.45-0.56
// times a request (/proc/PID/task/*/status), under SCHED_BATCH workers
// 0.12-0.24. Echo at 16 connections through the three tiers, the workers'
// policy switched back and forth on one running stack (Linux 6.18's EEVDF
// scheduler, 2 cores): 34,700 → 43,700, 33,800 → 39,200, 34,500 → 43,900
// rps, the three tiers' CPU 38 → 29-33 µs per request; hello at 64: 36,200
// → 38,600 and 42,000 → 48,500 rps. (An earlier measurement on another
// machine had echo lose a quarter of its rate under SCHED_BATCH, and
// workers behind the edge kept the normal policy until this one.)
const (
	schedNormal      = 0          // SCHED_OTHER, linux/sched.h
	schedBatch       = 3          // SCHED_BATCH
	schedResetOnFork = 0x40000000 // SCHED_RESET_ON_FORK, or'd into a policy
)

// schedOwnable reports whether this process runs under the normal policy,
// as a worker started from a normal master does: the only one a worker
// changes. Another (SCHED_IDLE, SCHED_BATCH, a real-time policy) was
// the operator's choice (chrt, systemd's CPUSchedulingPolicy), inherited
// from the master: switching away from it would raise a SCHED_IDLE
// stack's workers to a normal share of the CPU, or drop a real-time one's.
// (SCHED_RESET_ON_FORK resets only a real-time policy: processes an app
// starts from a worker run under SCHED_BATCH too.)
func schedOwnable() bool {
	p, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETSCHEDULER, 0, 0, 0)
	return e == 0 && int(p)&^schedResetOnFork == schedNormal
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
