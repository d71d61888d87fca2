package sockconn

import (
	"io"
	"os"
	"syscall"

	"github.com/stack-web/stack/internal/rawio"
)

// rawRead and rawWrite are one read(2) or write(2) of a non-blocking
// socket without entersyscall (internal/rawio; through package syscall
// under -race): an error is the errno.
func rawRead(fd int, p []byte) (int, error) { return errnoResult(rawio.Read(uintptr(fd), p)) }

func rawWrite(fd int, p []byte) (int, error) { return errnoResult(rawio.Write(uintptr(fd), p)) }

func errnoResult(n int, e syscall.Errno) (int, error) {
	if e != 0 {
		return 0, e
	}
	return n, nil
}

// pollIO reads and writes a descriptor that waits in the runtime poller
// (FD once a read or write would block; every kept connection of the
// edge) with the raw calls of internal/rawio: os.File's Read and Write go
// through entersyscall, which wakes the runtime's monitor thread and lets
// it hand the P to another thread while the call runs, a futex wake and a
// context switch per request on a kept connection.
type pollIO struct{ io *rawio.IO }

func newPollIO(f *os.File) (*pollIO, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &pollIO{rawio.New(rc)}, nil
}

// read reads into p once data is there, waiting in the poller (until the
// descriptor's read deadline).
func (o *pollIO) read(p []byte) (int, error) {
	n, err := o.io.Read(p)
	if err == nil && n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, err
}

// write writes all of p, waiting in the poller whenever the socket buffer
// is full (until the descriptor's write deadline).
func (o *pollIO) write(p []byte) (int, error) { return o.io.Write(p) }
