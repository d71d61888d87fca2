// Package listener opens and inherits the app server's listening sockets:
// a Unix socket made with its mode from the start and removed on Close only
// while it is still the one bound, a TCP socket, both kept out of the
// runtime poller until something accepts on them (a prefork master holds
// them and never accepts), the duplicates passed to worker processes, and
// the kernel's view of their accept queues.
//
// It stands alone because none of it knows a request: package appserver
// takes connections off a *Listener's descriptor (AcceptFD) and serves
// them, package appserver/prefork passes the sockets to its workers, and
// both reach it through appserver's wrappers (appserver.Listen, ...).
package listener

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// umaskMu serialises the umask changes of Listen: the umask is per process.
var umaskMu sync.Mutex

// Listener is a Unix listening socket opened by Listen. appserver's
// Server.Serve takes connections straight off its descriptor (AcceptFD);
// as a net.Listener it also works anywhere else.
type Listener struct {
	// file is the listening socket. It is not in the runtime poller: a
	// prefork master holds it and never accepts, and a socket in its poller
	// would wake it on every connection the workers take (epoll reports
	// each one to every epoll instance that has the socket), about a tenth
	// of the appserver's CPU behind nginx. The first accept puts a
	// duplicate of it in the poller (pollRC).
	file *os.File
	ctl  syscall.RawConn // file's, for Control
	path string
	addr *net.UnixAddr
	// owner: Close removes the socket file. A worker's inherited copy does
	// not own it: the master removes it when the appserver stops.
	owner bool
	// bound is the socket file as bound: Close removes the path only while
	// it is still that file, not another server's socket (or any file) put
	// there after this one was removed.
	bound os.FileInfo

	closeOnce sync.Once
	closeErr  error

	mu     sync.Mutex
	closed bool
	polled *os.File        // the duplicate in the poller, if made
	rc     syscall.RawConn // the descriptor accepts wait on: polled's (or file's, inherited)
}

var _ net.Listener = (*Listener)(nil)

// Listen opens the app server's socket. addr is "unix:PATH" for a Unix
// socket (the normal case: the uwsgi protocol has no authentication, so it
// belongs on a socket only the edge can reach) or "host:port" for TCP.
//
// A Unix socket is created with the given mode from the start (the umask is
// set around bind, so there is no window in which it has wider permissions,
// unlike chmod after listen). An existing socket file with no server behind
// it is a leftover of a crash and is replaced; one with a live server is an
// error, as is a path that is not a socket. Closing the listener removes the
// file.
func Listen(addr string, mode os.FileMode) (net.Listener, error) {
	return ListenBacklog(addr, mode, 65535)
}

// tcpNetwork is the network to listen on addr with: "tcp4" for an IPv4
// address, since Go's "tcp" makes 0.0.0.0 a dual-stack socket that IPv6
// clients reach too (nginx's and uWSGI's 0.0.0.0 is IPv4 only); "tcp"
// otherwise.
func tcpNetwork(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		if a, err := netip.ParseAddr(host); err == nil && a.Is4() {
			return "tcp4"
		}
	}
	return "tcp"
}

// ListenBacklog is Listen with the listen queue's length (uWSGI's
// listen, appserver.listen_backlog); the kernel caps it at
// net.core.somaxconn.
func ListenBacklog(addr string, mode os.FileMode, backlog int) (net.Listener, error) {
	path, ok := strings.CutPrefix(addr, "unix:")
	if !ok {
		l, err := listenTCP(addr, backlog)
		if err != nil {
			return nil, fmt.Errorf("appserver: listen on %s: %w", addr, err)
		}
		return l, nil
	}
	if path == "" {
		return nil, errors.New("appserver: listen: empty unix socket path")
	}
	if err := RemoveStaleSocket(path); err != nil {
		return nil, err
	}
	l, err := listenUnix(path, mode, backlog)
	if err != nil {
		return nil, fmt.Errorf("appserver: listen on %s: %w", addr, err)
	}
	return l, nil
}

func listenUnix(path string, mode os.FileMode, backlog int) (*Listener, error) {
	// Blocking, so that os.NewFile leaves it out of the poller (see
	// Listener.file); the duplicate that accepts is made non-blocking.
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	umaskMu.Lock()
	old := syscall.Umask(int(^mode & 0o777))
	err = syscall.Bind(fd, &syscall.SockaddrUnix{Name: path})
	syscall.Umask(old)
	umaskMu.Unlock()
	if err != nil {
		syscall.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	// The kernel caps the backlog at net.core.somaxconn, as for net.Listen.
	if err := syscall.Listen(fd, backlog); err != nil {
		syscall.Close(fd)
		os.Remove(path)
		return nil, os.NewSyscallError("listen", err)
	}
	// The umask can only remove bits; chmod makes the mode exact even if a
	// filesystem applies its own defaults.
	if err := os.Chmod(path, mode&fs.ModePerm); err != nil {
		syscall.Close(fd)
		os.Remove(path)
		return nil, err
	}
	bound, err := os.Lstat(path)
	if err != nil {
		syscall.Close(fd)
		os.Remove(path)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), path)
	ctl, err := f.SyscallConn()
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return &Listener{file: f, ctl: ctl, path: path, addr: &net.UnixAddr{Name: path, Net: "unix"}, owner: true, bound: bound}, nil
}

// InheritedListener wraps a listening socket inherited from the master
// (descriptor fd) for a worker process (package prefork runs them): a
// Unix socket as a *Listener that does not remove the file, anything else
// through net.FileListener.
func InheritedListener(fd int) (net.Listener, error) {
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return nil, fmt.Errorf("appserver: inherited listener (fd %d): %w", fd, os.NewSyscallError("getsockname", err))
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		return nil, fmt.Errorf("appserver: inherited listener: %w", os.NewSyscallError("setnonblock", err))
	}
	syscall.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), "listener")
	if ua, ok := sa.(*syscall.SockaddrUnix); ok {
		// A worker accepts on it: in the poller from the start.
		rc, err := f.SyscallConn()
		if err != nil {
			f.Close()
			return nil, err
		}
		return &Listener{file: f, ctl: rc, rc: rc, path: ua.Name, addr: &net.UnixAddr{Name: ua.Name, Net: "unix"}}, nil
	}
	defer f.Close()
	return net.FileListener(f)
}

// ListenerFile returns a duplicate descriptor of l to pass to a worker
// process (package prefork's master does): l is a *Listener or has a File
// method, as *net.TCPListener and *net.UnixListener do. The duplicate of a
// *Listener that has not accepted is not in the poller either (the
// socket is still blocking until a worker makes it non-blocking).
func ListenerFile(l net.Listener) (*os.File, error) {
	switch l := l.(type) {
	case *Listener:
		var dup int
		var derr error
		if err := l.ctl.Control(func(fd uintptr) { dup, derr = dupCloexec(int(fd)) }); err != nil {
			return nil, err
		}
		if derr != nil {
			return nil, derr
		}
		return os.NewFile(uintptr(dup), l.path), nil
	case interface{ File() (*os.File, error) }:
		return l.File()
	}
	return nil, fmt.Errorf("appserver: cannot pass a %T to worker processes", l)
}

// Accepter holds one accept loop's state, so that waiting for a
// connection allocates nothing: the callback is bound once.
type Accepter struct {
	nfd int
	err error
	try func(fd uintptr) bool
}

// NewAccepter returns an accept loop's Accepter.
func NewAccepter() *Accepter {
	a := &Accepter{}
	a.try = func(fd uintptr) bool {
		for {
			a.nfd, a.err = accept4(int(fd), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
			if a.err != syscall.EINTR && a.err != syscall.ECONNABORTED {
				break
			}
		}
		return a.err != syscall.EAGAIN
	}
	return a
}

// AcceptFD waits, through the runtime poller, for a pending connection and
// takes it with one accept4. The descriptor is non-blocking.
func (l *Listener) AcceptFD(a *Accepter) (int, error) {
	rc, err := l.pollRC()
	if err == nil {
		err = rc.Read(a.try)
	}
	if err != nil {
		return -1, &net.OpError{Op: "accept", Net: "unix", Addr: l.addr, Err: err}
	}
	if a.err != nil {
		return -1, &net.OpError{Op: "accept", Net: "unix", Addr: l.addr, Err: os.NewSyscallError("accept4", a.err)}
	}
	return a.nfd, nil
}

// pollRC returns the descriptor to accept on, in the runtime poller: a
// non-blocking duplicate of file, made on the first call.
func (l *Listener) pollRC() (syscall.RawConn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rc != nil {
		return l.rc, nil
	}
	if l.closed {
		return nil, net.ErrClosed
	}
	dup := -1
	var derr error
	if err := l.ctl.Control(func(fd uintptr) {
		if dup, derr = dupCloexec(int(fd)); derr == nil {
			if derr = syscall.SetNonblock(dup, true); derr != nil {
				syscall.Close(dup)
			}
		}
	}); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	f := os.NewFile(uintptr(dup), l.path) // non-blocking: into the poller
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	l.polled, l.rc = f, rc
	return rc, nil
}

// Accept implements net.Listener for callers other than appserver's Server.
func (l *Listener) Accept() (net.Conn, error) {
	fd, err := l.AcceptFD(NewAccepter())
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), l.path)
	defer f.Close()
	return net.FileConn(f)
}

// Close stops listening and removes the socket file, if the path still
// names the socket it bound.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		if l.polled != nil {
			l.polled.Close() // ends a wait in Accept
		}
		l.mu.Unlock()
		l.closeErr = l.file.Close()
		if !l.owner {
			return
		}
		if fi, err := os.Lstat(l.path); err != nil || !os.SameFile(fi, l.bound) {
			return // gone, or replaced: not ours to remove
		}
		if err := os.Remove(l.path); err != nil && !errors.Is(err, fs.ErrNotExist) && l.closeErr == nil {
			l.closeErr = err
		}
	})
	return l.closeErr
}

// Addr returns the socket's address.
func (l *Listener) Addr() net.Addr { return l.addr }

// RemoveStaleSocket removes path if it is a socket that nothing listens on,
// and fails naming why if it is anything else. Listen uses it for the
// appserver's socket, package prefork for its stats server's.
func RemoveStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("appserver: %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("appserver: %s exists and is not a socket; refusing to replace it (remove it or choose another appserver.listen)", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("appserver: %s: another server is already listening on it; stop it or choose another appserver.listen", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("appserver: %s: cannot tell whether a server is behind it: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("appserver: removing stale socket %s: %w", path, err)
	}
	return nil
}

// Adopt wraps a listening socket this process inherited from the one that
// bound it and keeps it (`stack up`'s mode: subprocess holds the tiers'
// sockets across a child's restart): a Unix socket as a *Listener that
// does not remove the file, whose owner removes it; a TCP socket as
// listenTCP's. Unlike InheritedListener it keeps the socket out of the
// runtime poller until something accepts on it, as Listen does: a prefork
// master holds it and never accepts.
func Adopt(fd int) (net.Listener, error) {
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return nil, fmt.Errorf("appserver: inherited listener (fd %d): %w", fd, os.NewSyscallError("getsockname", err))
	}
	if err := syscall.SetNonblock(fd, false); err != nil { // blocking: os.NewFile leaves it out of the poller
		return nil, fmt.Errorf("appserver: inherited listener: %w", os.NewSyscallError("setnonblock", err))
	}
	syscall.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), "listener")
	ctl, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	switch sa := sa.(type) {
	case *syscall.SockaddrUnix:
		return &Listener{file: f, ctl: ctl, path: sa.Name, addr: &net.UnixAddr{Name: sa.Name, Net: "unix"}}, nil
	case *syscall.SockaddrInet4:
		return &tcpListener{file: f, ctl: ctl, addr: &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}}, nil
	case *syscall.SockaddrInet6:
		return &tcpListener{file: f, ctl: ctl, addr: &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port}}, nil
	}
	f.Close()
	return nil, fmt.Errorf("appserver: inherited listener (fd %d): not a Unix or TCP socket", fd)
}
