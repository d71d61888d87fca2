//go:build race

package listener

import "syscall"

// With the race detector, accept4 goes through package syscall (see
// rawsys.go).
func accept4(fd, flags int) (int, error) {
	nfd, _, e := syscall.Syscall6(syscall.SYS_ACCEPT4, uintptr(fd), 0, 0, uintptr(flags), 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(nfd), nil
}
