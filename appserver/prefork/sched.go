package prefork

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// A worker runs under the kernel's SCHED_BATCH policy (batchScheduling).
//
// Behind nginx every request is a new connection: nginx connects, then
// writes its packet. The connect wakes an idle worker, and a woken
// SCHED_OTHER task preempts the one that woke it when it has run less,
// which a worker that just slept has: so the worker often ran on nginx's
// CPU between nginx's connect and its write, found nothing to read, and
// waited in ppoll (conn.go) while nginx finished; and its write of the
// response was cut short the same way by nginx waking. perf counted 1.7
// context switches per request in a worker (uWSGI's: 0.3), a quarter of
// them that ppoll. A SCHED_BATCH task is woken the same but does not
// preempt: nginx (or the edge) finishes its event loop's round, writing the
// request, and the worker runs when it sleeps, finds the packet there, and
// serves the requests that queued meanwhile in one go. Measured interleaved
// behind nginx (hello, processes: 2, scripts/ab-appalone.sh, busy machine),
// the whole setup's CPU per request went from 162 to 132 µs and the rate
// up by a fifth. The policy changes no priority: a worker's share of the
// CPU against other processes is a normal task's.
const schedBatch = 3 // SCHED_BATCH, linux/sched.h

// batchScheduling puts every thread of this process under SCHED_BATCH.
// The policy is per thread; a thread the runtime starts later is a clone of
// one of these and inherits it. A pass that finds a thread still unset
// (one started during the previous pass) is repeated.
func batchScheduling() error {
	for pass := 0; pass < 3; pass++ {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("appserver: worker: listing its threads for SCHED_BATCH: %w", err)
		}
		changed := false
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if policy, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETSCHEDULER, uintptr(tid), 0, 0); e == 0 && policy == schedBatch {
				continue
			}
			var param struct{ priority int32 } // 0: the only one SCHED_BATCH allows
			_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(tid), schedBatch, uintptr(unsafe.Pointer(&param)))
			if e != 0 && e != syscall.ESRCH { // ESRCH: the thread has exited
				return fmt.Errorf("appserver: worker: setting SCHED_BATCH on thread %d: %w", tid, e)
			}
			changed = true
		}
		if !changed {
			return nil
		}
	}
	return nil
}
