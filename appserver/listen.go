package appserver

import (
	"net"
	"os"

	"github.com/stack-web/stack/appserver/internal/listener"
)

// The listening sockets are package internal/listener's; these are the
// names the appserver's users (cli, package prefork, apps) know them by.

// Listener is a Unix listening socket opened by Listen. Server.Serve takes
// connections straight off its descriptor (see sockconn.FD); as a net.Listener
// it also works anywhere else.
type Listener = listener.Listener

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
func Listen(addr string, mode os.FileMode) (net.Listener, error) { return listener.Listen(addr, mode) }

// ListenBacklog is Listen with the listen queue's length (uWSGI's
// listen, appserver.listen_backlog); the kernel caps it at
// net.core.somaxconn.
func ListenBacklog(addr string, mode os.FileMode, backlog int) (net.Listener, error) {
	return listener.ListenBacklog(addr, mode, backlog)
}

// InheritedListener wraps a listening socket inherited from the master
// (descriptor fd) for a worker process (package prefork runs them): a
// Unix socket as a *Listener that does not remove the file, anything else
// through net.FileListener.
func InheritedListener(fd int) (net.Listener, error) { return listener.InheritedListener(fd) }

// HoldTCP listens on the TCP address addr of network ("tcp" as the edge
// uses it) for a process that holds the socket for a child to accept on
// and never accepts itself: the socket is kept out of its runtime poller,
// which would wake it on every connection. ListenerFile gives the child's
// duplicate.
func HoldTCP(network, addr string) (net.Listener, error) {
	return listener.ListenTCP(network, addr, 65535) // capped at somaxconn, as net.Listen's
}

// HoldTCPReusePort is HoldTCP with SO_REUSEPORT: one of the sockets on
// addr that the edge's processes each accept on (edge.processes).
func HoldTCPReusePort(network, addr string) (net.Listener, error) {
	return listener.ListenTCPReusePort(network, addr, 65535)
}

// AdoptListener wraps a listening socket (descriptor fd) that the process
// which bound it passed to this one and keeps open: `stack up`'s mode:
// subprocess holds the appserver child's socket across the child's
// restarts, so that connections wait in its queue meanwhile. Closing it does
// not remove a Unix socket's file; its owner does.
func AdoptListener(fd int) (net.Listener, error) { return listener.Adopt(fd) }

// ListenerFile returns a duplicate descriptor of l to pass to a worker
// process (package prefork's master does): l is a *Listener or has a File
// method, as *net.TCPListener and *net.UnixListener do.
func ListenerFile(l net.Listener) (*os.File, error) { return listener.ListenerFile(l) }

// RemoveStaleSocket removes path if it is a socket that nothing listens on,
// and fails naming why if it is anything else. Listen uses it for the
// appserver's socket, package prefork for its stats server's.
func RemoveStaleSocket(path string) error { return listener.RemoveStaleSocket(path) }

// ListenQueue returns how many connections wait in l's accept queue and
// the queue's limit, as the kernel reports them (0, 0 if it cannot tell):
// package prefork's stats server reports them as uWSGI's listen_queue.
func ListenQueue(l net.Listener) (queue, limit int) { return listener.ListenQueue(l) }
