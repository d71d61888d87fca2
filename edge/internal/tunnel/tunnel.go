// Package tunnel is a client connection once the edge switched its
// protocol (WebSocket, or any other upgrade): the spliced tunnel's client
// side, bounded by a location's idle and lifetime limits, counted both
// ways, and the registry of such connections that the edge's Shutdown
// waits for and then closes (net/http's Shutdown does not see hijacked
// connections at all). switch.go checks an upstream's 101 before the
// tunnel is made. The edge's glue (the location's limits, the hijack
// through its clientWriter, the access log) stays in edge/websocket.go.
package tunnel

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Limits are a location's limits on upgraded connections, resolved.
type Limits struct {
	Idle, Lifetime time.Duration
	// Send bounds each write to the client (the edge's send_timeout, as
	// nginx bounds an upgraded connection's writes downstream): the idle
	// limit counts the client's own frames as activity, so a client that
	// keeps sending and never reads would hold a blocked write for ever.
	Send time.Duration
}

// Registry is the edge's upgraded client connections, for Shutdown.
type Registry struct {
	mu    sync.Mutex
	conns map[*Conn]struct{}
	done  chan struct{} // closed when the set empties while waited on
	// Log, if set, says how many connections Shutdown closed.
	Log *slog.Logger
	// Open is the edge's gauge of open connections: an upgraded
	// connection is still open.
	Open *atomic.Int64
}

func (s *Registry) add(c *Conn) {
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.conns == nil {
		s.conns = map[*Conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	if s.Open != nil {
		s.Open.Add(1) // net/http stopped counting it at the hijack
	}
}

func (s *Registry) remove(c *Conn) {
	if s == nil {
		return
	}
	if s.Open != nil {
		s.Open.Add(-1)
	}
	s.mu.Lock()
	delete(s.conns, c)
	if len(s.conns) == 0 && s.done != nil {
		close(s.done)
		s.done = nil
	}
	s.mu.Unlock()
}

// Shutdown waits for the upgraded connections to end, or for ctx; then
// closes those left.
func (s *Registry) Shutdown(ctx context.Context) {
	s.mu.Lock()
	var done chan struct{}
	if len(s.conns) > 0 {
		if s.done == nil {
			s.done = make(chan struct{})
		}
		done = s.done
	}
	s.mu.Unlock()
	if done != nil {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
	}
	s.mu.Lock()
	left := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		left = append(left, c)
	}
	s.mu.Unlock()
	if len(left) > 0 && s.Log != nil {
		s.Log.Info("edge: closing upgraded connections at the end of the shutdown grace period", "connections", len(left))
	}
	for _, c := range left {
		c.Close()
	}
}

// Conn is a client connection after a protocol switch: it counts
// the bytes each way, notes when it last carried one, and closes itself
// when idle or too old.
type Conn struct {
	net.Conn
	lim      Limits
	set      *Registry
	cancel   context.CancelFunc // ends the request, and so the upstream's side
	start    time.Time
	last     atomic.Int64 // unix nanoseconds of the last byte either way
	sent     atomic.Int64 // bytes written to the client
	received atomic.Int64 // bytes read from the client
	idle     *time.Timer
	life     *time.Timer
	reason   atomic.Pointer[string] // why the edge closed it, if it did
	early    []byte                 // read by the server past the request head; Read's alone
	once     sync.Once
}

// New makes c, just hijacked, an upgraded connection bounded by lim,
// in set until it closes; cancel ends the request (and so the upstream's
// side) when it does. early is what the server read past the request
// head: Read returns it first.
func New(c net.Conn, early []byte, lim Limits, set *Registry, cancel context.CancelFunc) *Conn {
	uc := &Conn{Conn: c, early: early, lim: lim, set: set, cancel: cancel, start: time.Now()}
	uc.last.Store(uc.start.UnixNano())
	// The server's deadlines (header read, send_timeout) were for the
	// request; from here the limits are the location's.
	c.SetDeadline(time.Time{})
	// Armed once assigned: the callbacks read the fields.
	if lim.Idle > 0 {
		uc.idle = time.AfterFunc(time.Hour, uc.checkIdle)
		uc.idle.Reset(lim.Idle)
	}
	if lim.Lifetime > 0 {
		uc.life = time.AfterFunc(time.Hour, func() { uc.closeFor(&reasonLifetime) })
		uc.life.Reset(lim.Lifetime)
	}
	set.add(uc) // Shutdown may close it from here
	return uc
}

// checkIdle closes the connection if it carried nothing for the idle
// limit, or looks again when it would have.
func (c *Conn) checkIdle() {
	quiet := time.Since(time.Unix(0, c.last.Load()))
	if quiet >= c.lim.Idle {
		c.closeFor(&reasonIdle)
		return
	}
	c.idle.Reset(c.lim.Idle - quiet)
}

var (
	reasonIdle     = "idle_timeout"
	reasonLifetime = "max_lifetime"
	reasonSend     = "send_timeout"
)

// closeFor closes the connection, recording the limit that closed it.
func (c *Conn) closeFor(reason *string) {
	c.reason.CompareAndSwap(nil, reason)
	c.Close()
}

func (c *Conn) Read(p []byte) (int, error) {
	if len(c.early) > 0 {
		n := copy(p, c.early)
		c.early = c.early[n:]
		c.received.Add(int64(n))
		return n, nil
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.received.Add(int64(n))
		c.last.Store(time.Now().UnixNano())
	}
	return n, err
}

func (c *Conn) Write(p []byte) (int, error) {
	if c.lim.Send > 0 {
		c.Conn.SetWriteDeadline(time.Now().Add(c.lim.Send))
	}
	n, err := c.Conn.Write(p)
	if err != nil && c.lim.Send > 0 {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			c.closeFor(&reasonSend)
		}
	}
	if n > 0 {
		c.sent.Add(int64(n))
		c.last.Store(time.Now().UnixNano())
	}
	return n, err
}

// CloseWrite passes a half-close on (the forwarder sends one when the
// upstream ended its side).
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *Conn) Close() error {
	var err error
	c.once.Do(func() {
		if c.idle != nil {
			c.idle.Stop()
		}
		if c.life != nil {
			c.life.Stop()
		}
		err = c.Conn.Close()
		if c.cancel != nil {
			c.cancel()
		}
		c.set.remove(c)
	})
	return err
}

// Start is when the connection was switched.
func (c *Conn) Start() time.Time { return c.start }

// Sent is the bytes written to the client since the switch.
func (c *Conn) Sent() int64 { return c.sent.Load() }

// Received is the bytes read from the client since the switch.
func (c *Conn) Received() int64 { return c.received.Load() }

// ClosedBy says why the edge closed the connection ("" when it did not).
func (c *Conn) ClosedBy() string {
	if r := c.reason.Load(); r != nil {
		return *r
	}
	return ""
}
