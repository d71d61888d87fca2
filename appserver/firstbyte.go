package appserver

import (
	"io"
	"syscall"
	"time"
	"unsafe"
)

// A connection accepted but silent (a peer that connected and has sent
// nothing yet) is closed at once by a graceful stop, as one idle between
// kept requests is: uWSGI does not wait for it either, and it held the
// stop (a chain reload's retiring worker, the stack's exit) for up to
// socket_timeout. Until its first byte is read it is connFresh; Shutdown
// then shuts its reading side (StopReading) unless bytes already wait in
// the socket: what the peer sent before is still read and answered, and a
// read waiting for the first byte ends at EOF. Closing it outright would
// race a packet arriving as the stop begins, which would be lost unanswered;
// a packet that begun arriving is a request in progress, and is waited for.

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

// stopSilent is Shutdown's for a connection that has read nothing: its
// reading side is shut, unless bytes of a request wait in the socket.
func stopSilent(cs *conn) {
	if cs.state.Load() == connFresh && !cs.c.Unread() {
		cs.c.StopReading()
	}
}

// siocinq is Linux's SIOCINQ (FIONREAD): the bytes waiting to be read.
const siocinq = 0x541B

// queued reports whether bytes wait to be read on socket fd; true if it
// cannot tell, so that the connection is waited for as before.
func queued(fd uintptr) bool {
	var n int32
	_, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, siocinq, uintptr(unsafe.Pointer(&n)))
	return e != 0 || n > 0
}

func (c *fdConn) StopReading() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		syscall.Shutdown(c.fd, syscall.SHUT_RD)
	}
}

func (c *fdConn) Unread() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.closed && queued(uintptr(c.fd))
}

func (c *netConn) StopReading() {
	if cr, ok := c.Conn.(interface{ CloseRead() error }); ok {
		cr.CloseRead()
	}
}

func (c *netConn) Unread() bool {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	q := true
	if rc.Control(func(fd uintptr) { q = queued(fd) }) != nil {
		return true
	}
	return q
}
