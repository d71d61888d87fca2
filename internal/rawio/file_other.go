//go:build !linux

package rawio

import "syscall"

// Elsewhere than Linux, through package syscall (file_linux.go).

func Seek(fd uintptr, offset int64, whence int) (int64, syscall.Errno) {
	off, err := syscall.Seek(int(fd), offset, whence)
	if err != nil {
		return 0, err.(syscall.Errno)
	}
	return off, 0
}

func Fstat(fd uintptr, st *syscall.Stat_t) syscall.Errno {
	if err := syscall.Fstat(int(fd), st); err != nil {
		return err.(syscall.Errno)
	}
	return 0
}

func SetsockoptInt(fd uintptr, level, opt, value int) syscall.Errno {
	if err := syscall.SetsockoptInt(int(fd), level, opt, value); err != nil {
		return err.(syscall.Errno)
	}
	return 0
}
