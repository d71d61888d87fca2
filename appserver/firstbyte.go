package appserver

import (
	"io"
	"time"
)

// A connection accepted but silent (a peer that connected and has sent
// nothing yet) is closed at once by a graceful stop, as one idle between
// kept requests is: uWSGI does not wait for it either, and it held the
// stop (a chain reload's retiring worker, the stack's exit) for up to
// socket_timeout. Until its first byte is read it is connFresh; a short
// while into the stop (stdserver.FreshGrace: the edge may be descheduled
// between its connect and its write) Shutdown shuts its reading side
// (StopReading) unless bytes already wait in the socket: what the peer
// sent before is still read and answered, and a read waiting for the first
// byte ends at EOF. Closing it outright would race a packet arriving then,
// lost unanswered; a packet that has begun arriving is a request in
// progress, and is waited for.

// connFresh is a connection that has read nothing yet (see the states in
// serveconn.go).
const connFresh int32 = connClosing + 1

// awaitFirst waits for the first byte of a new connection, within
// socket_timeout of its accept as the whole first packet must be (see
// serveRequest). It reports false, having closed the connection, if none
// comes: the peer closed, timed out, or the stop ended its reading side.
func (s *Server) awaitFirst(cs *conn, bufs *connBuffers) bool {
	c := cs.c
	cs.firstUntil = time.Now().Add(s.socketTimeout())
	c.ReadsUntil(cs.firstUntil)
	_, err := bufs.br.Peek(1)
	c.ReadsUntil(time.Time{})
	cs.state.CompareAndSwap(connFresh, connActive)
	if err != nil {
		if err != io.EOF {
			s.logger().Warn("appserver: bad packet; closing the connection", "err", err)
		}
		c.Close()
		return false
	}
	return true
}

// stopSilent is Shutdown's, stdserver.FreshGrace after it began: the
// connections that have read nothing have their reading side shut, unless
// bytes of a request wait in their socket.
func (s *Server) stopSilent() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for cs := range s.conns {
		if cs.state.Load() == connFresh && !cs.c.Unread() {
			cs.c.StopReading()
		}
	}
}
