package stdserver

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stack-web/stack/appserver/internal/listener"
)

// A peer that connected and has sent nothing must not hold a graceful stop:
// net/http's Shutdown waits 5 s for a connection that has not sent its first
// request, and the FastCGI drain waited a second for its first record,
// while uWSGI does not wait for it (nor does the appserver's uwsgi server).
// Until a connection's first read, it is in its server's freshConns;
// FreshGrace after the stop began, the stop shuts its reading side, unless
// bytes already wait in its socket: a request that arrived by then is still
// read and answered, and the server's wait for the first bytes of a silent
// one ends at EOF, as if the peer had closed.

// FreshGrace is how long a stop waits for the first bytes of a connection
// that has sent none: a web server writes its request right after its
// connect, but may be descheduled between the two on a busy machine (a
// chain reload retires workers under load), and a request cut then is a
// 502. Every protocol's server (appserver's uwsgi one too) uses it.
const FreshGrace = 250 * time.Millisecond

// freshConns are a server's connections that have read nothing yet.
type freshConns struct {
	mu      sync.Mutex
	m       map[*freshConn]struct{}
	stopped bool
}

// freshConn is a connection of freshConns until its first read.
type freshConn struct {
	net.Conn
	set  *freshConns
	read atomic.Bool
}

// wrap tracks c until its first read; after stop, a new c has its reading
// side shut at once.
func (s *freshConns) wrap(c net.Conn) net.Conn {
	fc := &freshConn{Conn: c, set: s}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		stopReading(fc)
		return fc
	}
	if s.m == nil {
		s.m = map[*freshConn]struct{}{}
	}
	s.m[fc] = struct{}{}
	return fc
}

// stop shuts the reading side of every connection that has read nothing
// and has nothing waiting to be read.
func (s *freshConns) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	for c := range s.m {
		stopReading(c)
	}
}

func stopReading(c *freshConn) {
	if c.read.Load() || listener.ConnUnread(c.Conn) {
		return
	}
	if cr, ok := c.Conn.(interface{ CloseRead() error }); ok {
		cr.CloseRead()
	}
}

func (s *freshConns) drop(c *freshConn) {
	s.mu.Lock()
	delete(s.m, c)
	s.mu.Unlock()
}

func (c *freshConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.read.Load() {
		c.read.Store(true)
		c.set.drop(c)
	}
	return n, err
}

func (c *freshConn) Close() error {
	if !c.read.Load() {
		c.set.drop(c)
	}
	return c.Conn.Close()
}

// ReadFrom keeps the connection's own (sendfile, splice) for net/http's
// responses.
func (c *freshConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// freshListener wraps its connections in freshConns.
type freshListener struct {
	net.Listener
	set *freshConns
}

func (l freshListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.set.wrap(c), nil
}

// CloseWrite and CloseRead are the connection's own, which net/http uses
// (its lingering close) and hijackers may.
func (c *freshConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *freshConn) CloseRead() error {
	if cr, ok := c.Conn.(interface{ CloseRead() error }); ok {
		return cr.CloseRead()
	}
	return nil
}
