//go:build !race

package rawio

import "syscall"

// Sendfile is one sendfile(2) of up to n bytes from src's offset to the
// non-blocking socket fd, through RawSyscall as Read.
func Sendfile(fd, src uintptr, n int) (int, syscall.Errno) {
	m, _, e := syscall.RawSyscall6(syscall.SYS_SENDFILE, fd, src, 0, uintptr(n), 0, 0)
	return int(m), e
}
