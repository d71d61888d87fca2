package rawio

import (
	"syscall"
	"unsafe"
)

// The calls a static file's answer makes besides its reads and writes, raw
// as they are: none of them waits (a regular file's offset and attributes,
// a socket's option). Made through package syscall, each entered the
// scheduler's syscall state, and the first after the processors had all
// been idle woke the runtime's monitor thread, which then polled every
// 20 µs for a millisecond: about two nanosleeps a response for 1 MiB
// files under wrk.

// Seek is lseek(2).
func Seek(fd uintptr, offset int64, whence int) (int64, syscall.Errno) {
	off, _, e := syscall.RawSyscall(syscall.SYS_LSEEK, fd, uintptr(offset), uintptr(whence))
	return int64(off), e
}

// Fstat is fstat(2).
func Fstat(fd uintptr, st *syscall.Stat_t) syscall.Errno {
	_, _, e := syscall.RawSyscall(syscall.SYS_FSTAT, fd, uintptr(unsafe.Pointer(st)), 0)
	return e
}

// SetsockoptInt is setsockopt(2) of an int option.
func SetsockoptInt(fd uintptr, level, opt, value int) syscall.Errno {
	v := int32(value)
	_, _, e := syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, fd, uintptr(level), uintptr(opt), uintptr(unsafe.Pointer(&v)), 4, 0)
	return e
}
