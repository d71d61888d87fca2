// Package hijack keeps the connections that handlers took over
// (http.Hijacker: a WebSocket) for their server's Shutdown, which waits
// for them as for requests until its grace period ends and then closes
// them, and for a draining worker's CloseHijacked.
//
// It stands alone because every protocol the appserver serves hijacks
// its own way (the uwsgi Server hands over a duplicate of its descriptor,
// net/http hands over its own connection) and then needs the same set: a
// connection handed over, with the bytes read past the request first, is
// out of the server's sight but not of its Shutdown's.
package hijack

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
)

// Conns are a server's hijacked connections, for its Shutdown. The zero
// value is an empty set.
type Conns struct {
	mu    sync.Mutex
	conns map[*Conn]struct{}
	done  chan struct{} // closed when the set empties while Shutdown waits
}

// Track registers nc, whose first bytes to read are early.
func (s *Conns) Track(nc net.Conn, early []byte) *Conn {
	hc := &Conn{Conn: nc, early: early, set: s}
	s.mu.Lock()
	if s.conns == nil {
		s.conns = map[*Conn]struct{}{}
	}
	s.conns[hc] = struct{}{}
	s.mu.Unlock()
	return hc
}

func (s *Conns) remove(hc *Conn) {
	s.mu.Lock()
	delete(s.conns, hc)
	if len(s.conns) == 0 && s.done != nil {
		close(s.done)
		s.done = nil
	}
	s.mu.Unlock()
}

// Count is how many hijacked connections are open.
func (s *Conns) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Shutdown waits for the hijacked connections to be closed by their
// handlers, or for ctx; it closes those left and reports them.
func (s *Conns) Shutdown(ctx context.Context, logger *slog.Logger) error {
	s.mu.Lock()
	var done chan struct{}
	if len(s.conns) > 0 {
		if s.done == nil {
			s.done = make(chan struct{})
		}
		done = s.done
	}
	s.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	left := make([]*Conn, 0, len(s.conns))
	for hc := range s.conns {
		left = append(left, hc)
	}
	s.mu.Unlock()
	for _, hc := range left {
		hc.Close()
	}
	if len(left) == 0 {
		return nil
	}
	logger.Info("appserver: closed hijacked (WebSocket) connections at the end of the shutdown grace period", "connections", len(left))
	return fmt.Errorf("appserver: shutdown: closed %d hijacked connections: %w", len(left), ctx.Err())
}

// CloseAll closes every hijacked connection and reports how many.
func (s *Conns) CloseAll() int {
	s.mu.Lock()
	left := make([]*Conn, 0, len(s.conns))
	for hc := range s.conns {
		left = append(left, hc)
	}
	s.mu.Unlock()
	for _, hc := range left {
		hc.Close()
	}
	return len(left)
}

// Conn is a hijacked connection: the bytes read ahead first, then
// the socket; Close forgets it.
type Conn struct {
	net.Conn
	early []byte // read by the server past the request; only Read touches it
	set   *Conns
	once  sync.Once
}

func (c *Conn) Read(p []byte) (int, error) {
	if len(c.early) > 0 {
		n := copy(p, c.early)
		c.early = c.early[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

func (c *Conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.set.remove(c) })
	return err
}

// CloseWrite half-closes the socket where it can be.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
