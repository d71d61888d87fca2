// Package unixconn is the edge's connection to an app server's Unix
// socket: connected with two system calls, read and written with raw ones,
// and handed to the runtime's poller only when it has to wait. It stands
// alone because it is a transport's socket, not a protocol: the uwsgi and
// FastCGI transports of package upstream both dial it.
package unixconn

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

// Dial connects to a Unix socket with two system calls, socket and
// connect. net.Dial makes six: it also asks for both addresses, which a
// Unix socket to a known path never needs, and registers the socket with
// the runtime's poller (and unregisters it at its close), which most
// exchanges with a local app server never need either: see Conn.
//
// A connect to a Unix socket completes or fails at once: a full listen
// queue is EAGAIN, which is reported as is; the Group waits it out for
// a moment, then answers 503 (nginx answers 502).
func Dial(path string) (*Conn, error) {
	fd, err := rawSocket()
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("socket", err)}
	}
	if err := rawConnect(fd, path); err != nil {
		rawClose(fd)
		return nil, &net.OpError{Op: "dial", Net: "unix", Addr: &net.UnixAddr{Name: path, Net: "unix"}, Err: os.NewSyscallError("connect", err)}
	}
	return &Conn{fd: fd, path: path}, nil
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

// Conn is a non-blocking Unix socket from Dial, read and written
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
type Conn struct {
	fd     int
	path   string
	polled atomic.Pointer[polledFile] // set once, at the first wait; then all goes through it

	// mu orders the raw system calls before the poller with Close (the
	// fd must not be closed, and its number reused, under a read) and
	// with the deadlines, which the first wait hands on to the poller.
	mu                   sync.Mutex
	closed               bool
	rdeadline, wdeadline time.Time
	// prdl is the read deadline handed to the poller, once polled
	// (SetReadDeadlineWithin keeps it when it falls in the range asked).
	prdl time.Time
}

// polledFile is the connection under the runtime's poller.
type polledFile struct {
	f  *os.File
	io rawio.IO // in the struct: one allocation fewer at the first wait
}

func (c *Conn) Read(p []byte) (int, error) {
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

func (c *Conn) polledRead(pc *polledFile, p []byte) (int, error) {
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

func (c *Conn) Write(p []byte) (int, error) {
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

// WriteRead writes w whole, then reads into r (rawio.IO.WriteRead): once
// the connection is polled (every kept one, after its first wait), the
// read that would find nothing right after the request is skipped and the
// poller waits at once. Only for a peer that sends nothing unasked: the
// app server's kept connection between two answers. Before the first
// wait it is Write, then Read. A write error comes back with n 0.
func (c *Conn) WriteRead(w, r []byte) (wn, n int, err error) {
	pc := c.polled.Load()
	if pc == nil || len(w) == 0 || len(r) == 0 {
		if wn, err = c.Write(w); err != nil {
			return wn, 0, err
		}
		n, err = c.Read(r)
		return wn, n, err
	}
	wn, n, err = pc.io.WriteRead(w, r)
	switch {
	case err != nil && wn < len(w):
		return wn, 0, &os.PathError{Op: "write", Path: c.path, Err: c.closedErr(err)}
	case errors.Is(err, syscall.ECONNRESET):
		return wn, 0, io.EOF
	case err != nil:
		return wn, 0, &os.PathError{Op: "read", Path: c.path, Err: c.closedErr(err)}
	case n == 0:
		return wn, 0, io.EOF
	}
	return wn, n, nil
}

func (c *Conn) polledWrite(pc *polledFile, p []byte, done int) (int, error) {
	n, err := pc.io.Write(p)
	if err != nil {
		return done + n, &os.PathError{Op: "write", Path: c.path, Err: c.closedErr(err)}
	}
	return done + n, nil
}

// closedErr is os.ErrClosed for an error of a connection closed under a
// wait (the poller says "use of closed file", which os.File translates
// too), else err.
func (c *Conn) closedErr(err error) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed && !errors.Is(err, os.ErrDeadlineExceeded) {
		return os.ErrClosed
	}
	return err
}

// usableLocked is the error a read or write under deadline gets before
// it is tried: the poller's, for a closed connection or a deadline
// passed (a client gone cuts the connection with a deadline in the
// past).
func (c *Conn) usableLocked(deadline time.Time) error {
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
func (c *Conn) pollLocked() (*polledFile, error) {
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
		c.prdl = c.rdeadline
	}
	if !c.wdeadline.IsZero() {
		f.SetWriteDeadline(c.wdeadline)
	}
	pc := &polledFile{f: f}
	pc.io.Init(rc)
	c.polled.Store(pc)
	return pc, nil
}

// Close closes the socket; a read or write waiting under the poller
// returns os.ErrClosed.
func (c *Conn) Close() error {
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

func (c *Conn) SetDeadline(t time.Time) error {
	return c.setDeadline(t, true, true)
}

func (c *Conn) SetReadDeadline(t time.Time) error {
	return c.setDeadline(t, true, false)
}

func (c *Conn) SetWriteDeadline(t time.Time) error {
	return c.setDeadline(t, false, true)
}

func (c *Conn) setDeadline(t time.Time, read, write bool) error {
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
	if !read {
		return pc.f.SetWriteDeadline(t)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prdl = t
	if write {
		return pc.f.SetDeadline(t)
	}
	return pc.f.SetReadDeadline(t)
}

// PeekEnd reports, without waiting, whether the server has closed its side
// with nothing left to read.
func (c *Conn) PeekEnd() (eof bool, err error) {
	if cerr := c.control(func(fd int) { eof, err = PeekEnd(fd) }); cerr != nil {
		return false, cerr
	}
	if errors.Is(err, syscall.ECONNRESET) {
		return true, nil // the end, as at Read
	}
	return eof, err
}

// CloseWrite shuts the sending side down (an upgraded connection whose
// client has ended its side).
func (c *Conn) CloseWrite() error {
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
func (c *Conn) control(fn func(fd int)) error {
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

// Polled reports whether the connection has joined the runtime's poller
// (it had to wait once).
func (c *Conn) Polled() bool { return c.polled.Load() != nil }

// PeekEnd peeks at fd without waiting: the end of the stream, nothing yet
// (false, nil), or the socket's pending error.
func PeekEnd(fd int) (bool, error) {
	var b [1]byte
	for {
		n, _, err := syscall.Recvfrom(fd, b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch err {
		case nil:
			return n == 0, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false, nil
		}
		return false, os.NewSyscallError("recvfrom", err)
	}
}
