package upstream

import (
	"io"
	"os"

	"github.com/stack-web/stack/internal/rawio"
)

// unixConn is a connection from dialUnix: an *os.File, for the poller's
// registration, its deadlines and Close, read and written with raw system
// calls under its poller (internal/rawio). os.File (as net.Conn) enters
// the scheduler's syscall state for every read and write, a pair of
// runtime calls each and, when every thread was idle, a futex wake of the
// runtime's monitor thread. A read and a write may run at once (an
// upgraded connection).
type unixConn struct {
	*os.File
	io *rawio.IO
}

func newUnixConn(f *os.File) (*unixConn, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &unixConn{File: f, io: rawio.New(rc)}, nil
}

func (c *unixConn) Read(p []byte) (int, error) {
	n, err := c.io.Read(p)
	if err != nil {
		return n, &os.PathError{Op: "read", Path: c.Name(), Err: err}
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

func (c *unixConn) Write(p []byte) (int, error) {
	n, err := c.io.Write(p)
	if err != nil {
		return n, &os.PathError{Op: "write", Path: c.Name(), Err: err}
	}
	return n, nil
}
