//go:build race

package sockconn

import "syscall"

// With the race detector, the system calls go through package syscall,
// which tells the detector that a socket's write happens before the read
// of its bytes (see rawsys.go; reads and writes: internal/rawio).

func rawClose(fd int) error { return syscall.Close(fd) }
