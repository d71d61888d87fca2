//go:build !race

package sockconn

import "syscall"

// The system calls of a one-shot connection (accept4, read, write, close,
// all on non-blocking sockets, so none of them waits) go through
// RawSyscall. syscall.Read and its kind tell the scheduler that the thread
// may block (entersyscall), and the first such call after the worker was
// idle wakes the runtime's monitor thread (sysmon) from its deep sleep: a
// futex wake, a context switch, then a nanosleep every 20 µs for at least
// a millisecond while it watches the P "in a system call". A worker behind
// nginx goes idle between connections, so it paid that for nearly every
// request: perf put sysmon at a fifth of the worker's CPU.
//
// The race detector learns from syscall.Read and syscall.Write that a
// write to a socket happens before the read of its bytes, so with -race
// rawsys_race.go and internal/rawio use them instead. Reads and writes
// are internal/rawio's (pollio.go); accept4 is package listener's.

// rawClose closes a socket. Unless SO_LINGER is set with a timeout, which
// the appserver never does (Reset sets a zero one: an immediate RST),
// close(2) of a socket does not wait.
func rawClose(fd int) error {
	if _, _, e := syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(fd), 0, 0); e != 0 {
		return e
	}
	return nil
}
