//go:build !race

package appserver

import (
	"syscall"
	"unsafe"
)

// The system calls of a request on a non-blocking socket (accept4, read,
// write, close) never wait, so they go through RawSyscall: syscall.Read
// and its kind tell the scheduler that the thread may block
// (entersyscall), and the first such call after the worker was idle wakes
// the runtime's monitor thread, which then polls every 20 µs for a
// millisecond. A worker serving requests one after another from an idle
// state (nginx in front, a connection per request) paid a futex wake, a
// context switch and a burst of nanosleeps for every request.
//
// The race detector learns from syscall.Read and syscall.Write that a
// write to a socket happens before the read of its bytes, so with -race
// rawsys_race.go uses them instead.

func rawAccept4(fd int, flags int) (int, error) {
	nfd, _, e := syscall.RawSyscall6(syscall.SYS_ACCEPT4, uintptr(fd), 0, 0, uintptr(flags), 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(nfd), nil
}

func rawRead(fd int, p []byte) (int, error) {
	var b unsafe.Pointer
	if len(p) > 0 {
		b = unsafe.Pointer(&p[0])
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(b), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawWrite(fd int, p []byte) (int, error) {
	var b unsafe.Pointer
	if len(p) > 0 {
		b = unsafe.Pointer(&p[0])
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(b), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// rawClose closes a socket. Without SO_LINGER set to a timeout, which the
// appserver never sets, close(2) of a socket does not wait.
func rawClose(fd int) error {
	if _, _, e := syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(fd), 0, 0); e != 0 {
		return e
	}
	return nil
}
