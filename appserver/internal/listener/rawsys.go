//go:build !race

package listener

import "syscall"

// accept4 is a RawSyscall: syscall.Accept4 tells the scheduler that the
// thread may block (entersyscall), and the first such call after the
// worker was idle wakes the runtime's monitor thread (sysmon); the
// socket is non-blocking, so the call never waits. With the race
// detector it goes through package syscall instead (rawsys_race.go),
// as the appserver's other raw calls do.
func accept4(fd, flags int) (int, error) {
	// No peer address: the server never reads it, and syscall.Accept4
	// allocates one for every connection.
	nfd, _, e := syscall.RawSyscall6(syscall.SYS_ACCEPT4, uintptr(fd), 0, 0, uintptr(flags), 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(nfd), nil
}
