//go:build race

package appserver

import "syscall"

// With the race detector, the system calls go through package syscall,
// which tells the detector that a socket's write happens before the read
// of its bytes (see rawsys.go).

func rawAccept4(fd int, flags int) (int, error) {
	nfd, _, err := syscall.Accept4(fd, flags)
	return nfd, err
}

func rawRead(fd int, p []byte) (int, error) { return syscall.Read(fd, p) }

func rawWrite(fd int, p []byte) (int, error) { return syscall.Write(fd, p) }

func rawClose(fd int) error { return syscall.Close(fd) }
