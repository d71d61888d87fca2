//go:build race

package rawio

import "syscall"

// Sendfile goes through package syscall with the race detector, as Read.
func Sendfile(fd, src uintptr, n int) (int, syscall.Errno) {
	m, err := syscall.Sendfile(int(fd), int(src), nil, n)
	return errnoOf(m, err)
}
