package listener

import (
	"context"
	"net"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// tcpListener is a TCP listening socket kept out of the runtime poller
// until something accepts on it, for the reason Listener.file gives: a
// prefork master holds it and never accepts, and a socket in its poller
// woke it on every connection its workers took. The first Accept makes a
// net.Listener of a non-blocking duplicate, which enters the poller.
type tcpListener struct {
	file *os.File // blocking: not in the poller
	ctl  syscall.RawConn
	addr net.Addr

	mu     sync.Mutex
	closed bool
	ln     net.Listener // net.FileListener(file), made by the first Accept
}

var (
	_ net.Listener = (*tcpListener)(nil)
	_ syscall.Conn = (*tcpListener)(nil) // ListenQueue reads the queue through it
)

// listenTCP listens with net.Listen (its address handling and socket
// options), then keeps a blocking duplicate of the socket and closes the
// original, which takes it out of the poller.
func listenTCP(addr string, backlog int) (*tcpListener, error) {
	return listenTCPOn(tcpNetwork(addr), addr, backlog, false)
}

// ListenTCP is listenTCP on the network given ("tcp", "tcp4", "tcp6"): for
// a process that holds a socket for others to accept on (`stack up`'s mode:
// subprocess holds the edge's), which the socket must not wake.
func ListenTCP(network, addr string, backlog int) (net.Listener, error) {
	l, err := listenTCPOn(network, addr, backlog, false)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// ListenTCPReusePort is ListenTCP with SO_REUSEPORT: one of several
// sockets on the same address, among which the kernel spreads the new
// connections by their addresses' hash (the edge's processes, each
// accepting on one; Linux lets only sockets of the same user join).
func ListenTCPReusePort(network, addr string, backlog int) (net.Listener, error) {
	l, err := listenTCPOn(network, addr, backlog, true)
	if err != nil {
		return nil, err
	}
	return l, nil
}

func listenTCPOn(network, addr string, backlog int, reusePort bool) (*tcpListener, error) {
	var lc net.ListenConfig
	if reusePort {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			}); err != nil {
				return err
			}
			return serr
		}
	}
	nl, err := lc.Listen(context.Background(), network, addr)
	if err != nil {
		return nil, err
	}
	defer nl.Close() // the duplicate keeps the socket open
	rc, err := nl.(*net.TCPListener).SyscallConn()
	if err != nil {
		return nil, err
	}
	dup := -1
	var derr error
	if err := rc.Control(func(fd uintptr) {
		if dup, derr = dupCloexec(int(fd)); derr != nil {
			return
		}
		if derr = syscall.SetNonblock(dup, false); derr == nil {
			// net.Listen uses somaxconn; listen(2) again on a listening
			// socket only changes its backlog.
			derr = syscall.Listen(dup, backlog)
		}
		if derr != nil {
			syscall.Close(dup)
		}
	}); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	f := os.NewFile(uintptr(dup), "tcp:"+nl.Addr().String()) // blocking: not in the poller
	ctl, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &tcpListener{file: f, ctl: ctl, addr: nl.Addr()}, nil
}

// Accept waits for a connection on the polled duplicate.
func (l *tcpListener) Accept() (net.Conn, error) {
	ln, err := l.listener()
	if err != nil {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: err}
	}
	return ln.Accept()
}

func (l *tcpListener) listener() (net.Listener, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		return l.ln, nil
	}
	if l.closed {
		return nil, net.ErrClosed
	}
	ln, err := net.FileListener(l.file) // a non-blocking duplicate
	if err != nil {
		return nil, err
	}
	l.ln = ln
	return ln, nil
}

// Close stops listening (in this process: workers' copies keep the socket)
// and ends a waiting Accept.
func (l *tcpListener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return net.ErrClosed
	}
	l.closed = true
	ln := l.ln
	l.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	return l.file.Close()
}

func (l *tcpListener) Addr() net.Addr { return l.addr }

// SyscallConn gives the blocking socket, for ListenQueue.
func (l *tcpListener) SyscallConn() (syscall.RawConn, error) { return l.ctl, nil }

// File returns a duplicate to pass to a worker process (ListenerFile);
// like the socket, it is not in the poller.
func (l *tcpListener) File() (*os.File, error) {
	dup := -1
	var derr error
	if err := l.ctl.Control(func(fd uintptr) { dup, derr = dupCloexec(int(fd)) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	return os.NewFile(uintptr(dup), l.file.Name()), nil
}
