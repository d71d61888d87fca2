//go:build !race

package rawio

import (
	"syscall"
	"unsafe"
)

// Read is one read(2) of fd through RawSyscall: no entersyscall, no wake
// of the runtime's monitor thread. fd must be non-blocking.
func Read(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(bufOf(p)), uintptr(len(p)))
	return int(n), e
}

// Write is one write(2) to fd, as Read.
func Write(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(bufOf(p)), uintptr(len(p)))
	return int(n), e
}

func bufOf(p []byte) unsafe.Pointer {
	if len(p) == 0 {
		return nil
	}
	return unsafe.Pointer(&p[0])
}
