//go:build race

package sockconn

import (
	"syscall"
	"time"
	"unsafe"
)

// With the race detector, the system calls go through package syscall,
// which tells the detector that a socket's write happens before the read
// of its bytes (see rawsys.go; reads and writes: internal/rawio).

func rawClose(fd int) error { return syscall.Close(fd) }

// ppoll moves no bytes, so there is nothing for the detector to learn:
// it holds its thread and P as without -race, and the tests see that.
func rawWaitReadable(fd int, d time.Duration) bool {
	pfd := struct {
		fd      int32
		events  int16
		revents int16
	}{fd: int32(fd), events: pollIn}
	ts := syscall.NsecToTimespec(int64(d))
	n, _, e := syscall.RawSyscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
	return e != 0 || n > 0
}
