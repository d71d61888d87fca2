package h1

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// rawTCP is a client's TCP connection read and written with raw system
// calls under its poller (syscall.RawConn). net.TCPConn enters the
// scheduler's syscall state for every read and write: a pair of runtime
// calls each and, when every thread was idle, a futex wake-up of the
// runtime's monitor thread so that it could take the processor back were
// the call to block. A read or write of a non-blocking socket never
// blocks: it returns EAGAIN and the poller waits, under the deadlines, as
// before. Measured on hello through the three tiers, the edge's CPU per
// request fell by about a sixth.
//
// Everything else (deadlines, Close, CloseWrite, ReadFrom's sendfile,
// SyscallConn) is the embedded TCPConn's. The functions handed to the
// RawConn are made once per connection, their arguments and results kept
// in the struct, so that a read or a write allocates nothing; a mutex per
// direction keeps the net.Conn promise that methods may be called at once.
type rawTCP struct {
	*net.TCPConn
	rc syscall.RawConn

	rmu    sync.Mutex
	rbuf   []byte
	rn     int
	rerrno syscall.Errno
	readFn func(uintptr) bool

	wmu     sync.Mutex
	wbuf    []byte
	wn      int
	werrno  syscall.Errno
	writeFn func(uintptr) bool
}

// wrapTCP returns c read and written raw if it is a TCP connection, and c
// itself otherwise.
func wrapTCP(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	r := &rawTCP{TCPConn: tc, rc: rc}
	r.readFn = r.read
	r.writeFn = r.write
	return r
}

// tcpOf is the TCP connection under c, wrapped or not.
func tcpOf(c net.Conn) (*net.TCPConn, bool) {
	switch c := c.(type) {
	case *rawTCP:
		return c.TCPConn, true
	case *net.TCPConn:
		return c, true
	}
	return nil, false
}

func (c *rawTCP) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	c.rbuf, c.rn, c.rerrno = p, 0, 0
	err := c.rc.Read(c.readFn)
	n, errno := c.rn, c.rerrno
	c.rbuf = nil
	c.rmu.Unlock()
	if err == nil && errno != 0 {
		n, err = 0, os.NewSyscallError("read", errno)
	}
	if err != nil {
		return n, c.opError("read", err)
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// read is one read(2) into c.rbuf; false asks the poller to wait.
func (c *rawTCP) read(fd uintptr) bool {
	for {
		n, e := rawRead(fd, c.rbuf)
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		case 0:
			c.rn = n
		default:
			c.rerrno = e
		}
		return true
	}
}

func (c *rawTCP) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.wmu.Lock()
	c.wbuf, c.wn, c.werrno = p, 0, 0
	err := c.rc.Write(c.writeFn)
	n, errno := c.wn, c.werrno
	c.wbuf = nil
	c.wmu.Unlock()
	if err == nil && errno != 0 {
		err = os.NewSyscallError("write", errno)
	}
	if err != nil {
		return n, c.opError("write", err)
	}
	return n, nil
}

// write writes c.wbuf from c.wn on; false asks the poller to wait.
func (c *rawTCP) write(fd uintptr) bool {
	for c.wn < len(c.wbuf) {
		n, e := rawWrite(fd, c.wbuf[c.wn:])
		switch e {
		case 0:
			c.wn += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.werrno = e
			return true
		}
	}
	return true
}

// opError is what net.TCPConn returns: errors.Is(err, net.ErrClosed) and
// os.ErrDeadlineExceeded, and Timeout(), hold through it.
func (c *rawTCP) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
