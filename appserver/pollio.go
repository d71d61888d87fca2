package appserver

import (
	"io"
	"os"
	"syscall"
)

// pollIO reads and writes a descriptor that waits in the runtime poller
// (fdConn once a read or write would block; every kept connection of the
// edge), through its syscall.RawConn and the raw system calls of
// rawsys.go: os.File's Read and Write go through entersyscall, which wakes
// the runtime's monitor thread and lets it hand the P to another thread
// while the call runs, a futex wake and a context switch per request on a
// kept connection. The callbacks are bound once, so that a read or write
// allocates nothing.
type pollIO struct {
	rc     syscall.RawConn
	p      []byte
	n      int
	err    error
	readFn func(fd uintptr) bool
	wrFn   func(fd uintptr) bool
}

func newPollIO(f *os.File) (*pollIO, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	o := &pollIO{rc: rc}
	o.readFn = func(fd uintptr) bool {
		for {
			o.n, o.err = rawRead(int(fd), o.p)
			if o.err != syscall.EINTR {
				return o.err != syscall.EAGAIN
			}
		}
	}
	o.wrFn = func(fd uintptr) bool {
		for o.n < len(o.p) {
			n, err := rawWrite(int(fd), o.p[o.n:])
			switch {
			case err == syscall.EINTR:
				continue
			case err == syscall.EAGAIN:
				return false
			case err != nil:
				o.err = err
				return true
			}
			o.n += n
		}
		return true
	}
	return o, nil
}

// read reads into p once data is there, waiting in the poller (until the
// descriptor's read deadline).
func (o *pollIO) read(p []byte) (int, error) {
	o.p, o.n, o.err = p, 0, nil
	err := o.rc.Read(o.readFn)
	n, rerr := o.n, o.err
	o.p = nil
	switch {
	case err != nil:
		return 0, err
	case rerr != nil:
		return 0, os.NewSyscallError("read", rerr)
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return n, nil
}

// write writes all of p, waiting in the poller whenever the socket buffer
// is full (until the descriptor's write deadline).
func (o *pollIO) write(p []byte) (int, error) {
	o.p, o.n, o.err = p, 0, nil
	err := o.rc.Write(o.wrFn)
	n, werr := o.n, o.err
	o.p = nil
	if err == nil && werr != nil {
		err = os.NewSyscallError("write", werr)
	}
	return n, err
}
