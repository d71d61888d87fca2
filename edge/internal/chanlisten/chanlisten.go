// Package chanlisten is a net.Listener fed by a channel: the edge's accept
// loops own the sockets and hand each connection to whichever server is
// current, so a reload changes servers without closing a socket. It
// stands alone because it is that one mechanism.
package chanlisten

import (
	"net"
	"sync"
)

// Listener is a net.Listener whose connections come from the accept
// loops, until it is closed.
type Listener struct {
	conns <-chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// New is a Listener of the connections sent on conns.
func New(conns <-chan net.Conn) *Listener {
	return &Listener{conns: conns, done: make(chan struct{})}
}

func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *Listener) Addr() net.Addr { return chanAddr{} }

type chanAddr struct{}

func (chanAddr) Network() string { return "tcp" }
func (chanAddr) String() string  { return "edge" }
