package upstream

import (
	"io"
	"os"
	"syscall"
	"unsafe"
)

// unixConn is a connection from dialUnix: an *os.File, for the poller's
// registration, its deadlines and Close, read and written with raw system
// calls. os.File (as net.Conn) enters the scheduler's syscall state for
// every read and write, which costs a pair of runtime calls each and, when
// every thread was idle, a wake-up of the runtime's monitor thread (futex)
// so that it can take the processor back should the call block. A read or
// write of a non-blocking socket never blocks: it returns EAGAIN, and the
// poller waits instead (syscall.RawConn), as before.
//
// The functions handed to the RawConn are made once per connection, with
// their arguments and results in the struct, so that a read or a write
// allocates nothing. A read and a write may run at once (an upgraded
// connection): each has its own.
type unixConn struct {
	*os.File
	rc syscall.RawConn

	rbuf   []byte
	rn     int
	rerrno syscall.Errno
	readFn func(uintptr) bool

	wbuf    []byte
	wn      int
	werrno  syscall.Errno
	writeFn func(uintptr) bool
}

func newUnixConn(f *os.File) (*unixConn, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	c := &unixConn{File: f, rc: rc}
	c.readFn = c.read
	c.writeFn = c.write
	return c, nil
}

func (c *unixConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rbuf, c.rn, c.rerrno = p, 0, 0
	err := c.rc.Read(c.readFn)
	n, errno := c.rn, c.rerrno
	c.rbuf = nil
	if err == nil && errno != 0 {
		n, err = 0, errno
	}
	if err != nil {
		return n, &os.PathError{Op: "read", Path: c.Name(), Err: err}
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// read is one read(2) of c.rbuf; false asks the poller to wait.
func (c *unixConn) read(fd uintptr) bool {
	p := c.rbuf
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // the poller waits, under the read deadline
		case 0:
			c.rn = int(r)
		default:
			c.rerrno = e
		}
		return true
	}
}

func (c *unixConn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.wbuf, c.wn, c.werrno = p, 0, 0
	err := c.rc.Write(c.writeFn)
	n, errno := c.wn, c.werrno
	c.wbuf = nil
	if err == nil && errno != 0 {
		err = errno
	}
	if err != nil {
		return n, &os.PathError{Op: "write", Path: c.Name(), Err: err}
	}
	return n, nil
}

// write writes c.wbuf from c.wn on; false asks the poller to wait.
func (c *unixConn) write(fd uintptr) bool {
	p := c.wbuf
	for c.wn < len(p) {
		r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[c.wn])), uintptr(len(p)-c.wn))
		switch e {
		case 0:
			c.wn += int(r)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false // the poller waits, under the write deadline
		default:
			c.werrno = e
			return true
		}
	}
	return true
}
