package upstream

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/stack-web/stack/internal/rawio"
)

// dialUnix connects to a Unix socket with two system calls, socket and
// connect. net.Dial makes six: it also asks for both addresses, which a
// Unix socket to a known path never needs, and registers the socket with
// the runtime's poller (and unregisters it at its close), which most
// exchanges with a local app server never need either: see unixConn.
//
// A connect to a Unix socket completes or fails at once: a full listen
// queue is EAGAIN, which is reported as is; the Group waits it out for
// a moment, then answers 503 (nginx answers 502).
func dialUnix(path string) (*unixConn, error) {
	fd, err := rawSocket()
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("socket", err)}
	}
	if err := rawConnect(fd, path); err != nil {
		rawClose(fd)
		return nil, &net.OpError{Op: "dial", Net: "unix", Addr: &net.UnixAddr{Name: path, Net: "unix"}, Err: os.NewSyscallError("connect", err)}
	}
	return &unixConn{fd: fd, path: path}, nil
}

// rawSocket, rawConnect and rawClose are socket(2), connect(2) and close(2)
// without the scheduler's syscall state, as rawio's reads and writes: on a
// non-blocking Unix socket none of them waits. Under load, a thread the
// kernel preempted inside one of them (entersyscall'd) had its processor
// handed to another thread by the runtime's monitor, which then polled
// every 20 µs instead of backing off: 6% of the edge's CPU in front of
// uWSGI.
func rawSocket() (int, error) {
	fd, _, e := syscall.RawSyscall(syscall.SYS_SOCKET, syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}

func rawConnect(fd int, path string) error {
	var sa syscall.RawSockaddrUnix
	if len(path) == 0 || len(path) >= len(sa.Path) {
		return syscall.EINVAL
	}
	sa.Family = syscall.AF_UNIX
	for i := 0; i < len(path); i++ {
		sa.Path[i] = int8(path[i])
	}
	n := 2 + len(path) + 1 // the family, the path and its NUL, as package syscall counts
	if path[0] == '@' {
		sa.Path[0] = 0 // Linux's abstract namespace, as net.Dial("unix", "@name")
		n--
	}
	for {
		_, _, e := syscall.RawSyscall(syscall.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa)), uintptr(n))
		switch e {
		case 0:
			return nil
		case syscall.EINTR:
			continue
		}
		return e
	}
}

func rawClose(fd int) error {
	if _, _, e := syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(fd), 0, 0); e != 0 {
		return e
	}
	return nil
}

// unixConn is a non-blocking Unix socket from dialUnix, read and written
// with raw system calls (internal/rawio). It joins the runtime's poller
// only when a read or write finds it not ready: until then a deadline is
// a time kept here, and a read or write one system call. A request to a
// local app server is written whole at once into an empty socket buffer,
// and its answer is often there by the time it is read (the app server
// writes it and closes), so most connections never wait: they save the
// poller's registration and unregistration (two epoll_ctl and an fcntl),
// an *os.File with its finalizer, and the deadline timers. The request is
// also in the server's socket sooner after the connect, so that the
// server, woken by the connect, reads it at once instead of finding
// nothing and polling.
//
// Once polled, it is what it was before: an *os.File under the poller,
// read and written with raw system calls (os.File, as net.Conn, enters
// the scheduler's syscall state for every read and write: a pair of
// runtime calls each and, when every thread was idle, a futex wake of the
// runtime's monitor thread). A read and a write may run at once (an
// upgraded connection), and Close and the deadlines may come from any
// goroutine.
type unixConn struct {
	fd     int
	path   string
	polled atomic.Pointer[polledConn] // set once, at the first wait; then all goes through it

	// mu orders the raw system calls before the poller with Close (the
	// fd must not be closed, and its number reused, under a read) and
	// with the deadlines, which the first wait hands on to the poller.
	mu                   sync.Mutex
	closed               bool
	rdeadline, wdeadline time.Time
}

// polledConn is the connection under the runtime's poller.
type polledConn struct {
	f  *os.File
	io rawio.IO // in the struct: one allocation fewer at the first wait
}

func (c *unixConn) Read(p []byte) (int, error) {
	if pc := c.polled.Load(); pc != nil {
		return c.polledRead(pc, p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	c.mu.Lock()
	if pc := c.polled.Load(); pc != nil {
		c.mu.Unlock()
		return c.polledRead(pc, p)
	}
	if err := c.usableLocked(c.rdeadline); err != nil {
		c.mu.Unlock()
		return 0, &os.PathError{Op: "read", Path: c.path, Err: err}
	}
	n, e := rawio.Read(uintptr(c.fd), p)
	for e == syscall.EINTR {
		n, e = rawio.Read(uintptr(c.fd), p)
	}
	if e == syscall.EAGAIN {
		pc, err := c.pollLocked()
		c.mu.Unlock()
		if err != nil {
			return 0, &os.PathError{Op: "read", Path: c.path, Err: err}
		}
		return c.polledRead(pc, p)
	}
	c.mu.Unlock()
	switch {
	case e == syscall.ECONNRESET || n == 0 && e == 0:
		return 0, io.EOF
	case e != 0:
		return 0, &os.PathError{Op: "read", Path: c.path, Err: os.NewSyscallError("read", e)}
	}
	return n, nil
}

// A reset read from a Unix stream socket is its end: it says only that
// the server closed with bytes of the request unread (an answer before
// the whole body), after every byte it wrote has been read. It loses
// none of them, as a TCP reset may, so a body that ends at the close is
// whole, as at a plain close.

func (c *unixConn) polledRead(pc *polledConn, p []byte) (int, error) {
	n, err := pc.io.Read(p)
	if errors.Is(err, syscall.ECONNRESET) {
		return 0, io.EOF
	}
	if err != nil {
		return n, &os.PathError{Op: "read", Path: c.path, Err: c.closedErr(err)}
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

func (c *unixConn) Write(p []byte) (int, error) {
	if pc := c.polled.Load(); pc != nil {
		return c.polledWrite(pc, p, 0)
	}
	if len(p) == 0 {
		return 0, nil
	}
	c.mu.Lock()
	if pc := c.polled.Load(); pc != nil {
		c.mu.Unlock()
		return c.polledWrite(pc, p, 0)
	}
	if err := c.usableLocked(c.wdeadline); err != nil {
		c.mu.Unlock()
		return 0, &os.PathError{Op: "write", Path: c.path, Err: err}
	}
	done := 0
	for done < len(p) {
		n, e := rawio.Write(uintptr(c.fd), p[done:])
		switch e {
		case 0:
			done += n
			continue
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			pc, err := c.pollLocked()
			c.mu.Unlock()
			if err != nil {
				return done, &os.PathError{Op: "write", Path: c.path, Err: err}
			}
			return c.polledWrite(pc, p[done:], done)
		}
		c.mu.Unlock()
		return done, &os.PathError{Op: "write", Path: c.path, Err: os.NewSyscallError("write", e)}
	}
	c.mu.Unlock()
	return done, nil
}

func (c *unixConn) polledWrite(pc *polledConn, p []byte, done int) (int, error) {
	n, err := pc.io.Write(p)
	if err != nil {
		return done + n, &os.PathError{Op: "write", Path: c.path, Err: c.closedErr(err)}
	}
	return done + n, nil
}

// closedErr is os.ErrClosed for an error of a connection closed under a
// wait (the poller says "use of closed file", which os.File translates
// too), else err.
func (c *unixConn) closedErr(err error) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed && !isTimeout(err) {
		return os.ErrClosed
	}
	return err
}

// usableLocked is the error a read or write under deadline gets before
// it is tried: the poller's, for a closed connection or a deadline
// passed (a client gone cuts the connection with a deadline in the
// past).
func (c *unixConn) usableLocked(deadline time.Time) error {
	if c.closed {
		return os.ErrClosed
	}
	if !deadline.IsZero() && !time.Now().Before(deadline) {
		return os.ErrDeadlineExceeded
	}
	return nil
}

// pollLocked registers the socket with the runtime's poller, with the
// deadlines set so far.
func (c *unixConn) pollLocked() (*polledConn, error) {
	if c.closed {
		return nil, os.ErrClosed
	}
	// os.NewFile sees a non-blocking socket and registers it.
	f := os.NewFile(uintptr(c.fd), c.path)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		c.closed = true
		return nil, err
	}
	if !c.rdeadline.IsZero() {
		f.SetReadDeadline(c.rdeadline)
	}
	if !c.wdeadline.IsZero() {
		f.SetWriteDeadline(c.wdeadline)
	}
	pc := &polledConn{f: f}
	pc.io.Init(rc)
	c.polled.Store(pc)
	return pc, nil
}

// Close closes the socket; a read or write waiting under the poller
// returns os.ErrClosed.
func (c *unixConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return &os.PathError{Op: "close", Path: c.path, Err: os.ErrClosed}
	}
	c.closed = true
	if pc := c.polled.Load(); pc != nil {
		return pc.f.Close()
	}
	if err := rawClose(c.fd); err != nil {
		return &os.PathError{Op: "close", Path: c.path, Err: err}
	}
	return nil
}

func (c *unixConn) SetDeadline(t time.Time) error {
	return c.setDeadline(t, true, true)
}

func (c *unixConn) SetReadDeadline(t time.Time) error {
	return c.setDeadline(t, true, false)
}

func (c *unixConn) SetWriteDeadline(t time.Time) error {
	return c.setDeadline(t, false, true)
}

func (c *unixConn) setDeadline(t time.Time, read, write bool) error {
	pc := c.polled.Load()
	if pc == nil {
		c.mu.Lock()
		if pc = c.polled.Load(); pc == nil {
			defer c.mu.Unlock()
			if c.closed {
				return &os.PathError{Op: "set deadline", Path: c.path, Err: os.ErrClosed}
			}
			if read {
				c.rdeadline = t
			}
			if write {
				c.wdeadline = t
			}
			return nil
		}
		c.mu.Unlock()
	}
	switch {
	case read && write:
		return pc.f.SetDeadline(t)
	case read:
		return pc.f.SetReadDeadline(t)
	}
	return pc.f.SetWriteDeadline(t)
}

// peekEnd reports, without waiting, whether the server has closed its side
// with nothing left to read (see atEOF).
func (c *unixConn) peekEnd() (eof bool, err error) {
	if cerr := c.control(func(fd int) { eof, err = peekEnd(fd) }); cerr != nil {
		return false, cerr
	}
	if errors.Is(err, syscall.ECONNRESET) {
		return true, nil // the end, as at Read
	}
	return eof, err
}

// CloseWrite shuts the sending side down (an upgraded connection whose
// client has ended its side).
func (c *unixConn) CloseWrite() error {
	var err error
	if cerr := c.control(func(fd int) { err = syscall.Shutdown(fd, syscall.SHUT_WR) }); cerr != nil {
		return cerr
	}
	if err != nil {
		return &os.PathError{Op: "shutdown", Path: c.path, Err: err}
	}
	return nil
}

// control runs fn on the open socket, which nothing closes meanwhile.
func (c *unixConn) control(fn func(fd int)) error {
	if pc := c.polled.Load(); pc != nil {
		rc, err := pc.f.SyscallConn()
		if err != nil {
			return err
		}
		return rc.Control(func(fd uintptr) { fn(int(fd)) })
	}
	c.mu.Lock()
	if pc := c.polled.Load(); pc != nil {
		c.mu.Unlock()
		return c.control(fn)
	}
	defer c.mu.Unlock()
	if c.closed {
		return os.ErrClosed
	}
	fn(c.fd)
	return nil
}
