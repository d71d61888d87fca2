package listener

import (
	"os"

	"golang.org/x/sys/unix"
)

// dupCloexec duplicates fd close-on-exec in one call (F_DUPFD_CLOEXEC), as
// package net's own duplicates are: dup(2) then marking it left a window
// in which a program another goroutine started (a worker, a processes:
// entry, a tier child) inherited the listening socket, and held the
// address, or the Unix socket's queue, after the stack closed it.
func dupCloexec(fd int) (int, error) {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("fcntl(F_DUPFD_CLOEXEC)", err)
	}
	return nfd, nil
}
