package sockconn

import (
	"fmt"
	"net"
	"os"
	"time"

	"github.com/stack-web/stack/appserver/internal/listener"
)

// Net adapts a net.Conn from any other listener, with a fresh deadline
// before every read and write. Its methods take a pointer: Abort and
// WriteNow run on other goroutines (Shutdown, the harakiri watchdog), and a
// copy would read the deadlines the serving goroutine writes.
type Net struct {
	net.Conn
	timeout time.Duration
	until   time.Time
}

// NewNet adapts c, with timeout as its per-read and per-write timeout.
func NewNet(c net.Conn, timeout time.Duration) *Net {
	return &Net{Conn: c, timeout: timeout}
}

func (c *Net) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(readDeadline(c.timeout, c.until))
	return c.Conn.Read(p)
}

func (c *Net) ReadsUntil(t time.Time) { c.until = t }

func (c *Net) ReadTimeout(d time.Duration) { c.timeout = d }

func (c *Net) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	return c.Conn.Write(p)
}

func (c *Net) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *Net) Abort() { c.Conn.Close() }

func (c *Net) WriteNow(p []byte) error {
	c.Conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, err := c.Conn.Write(p)
	return err
}

func (c *Net) Reset() {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
}

func (c *Net) StopReading() {
	if cr, ok := c.Conn.(interface{ CloseRead() error }); ok {
		cr.CloseRead()
	}
}

func (c *Net) Unread() bool { return listener.ConnUnread(c.Conn) }

// Detach duplicates the socket of a net.Conn that has one (Unix, TCP), as
// FD does; another kind is handed over itself, and the adapter no
// longer touches it.
func (c *Net) Detach() (net.Conn, error) {
	if fc, ok := c.Conn.(interface{ File() (*os.File, error) }); ok {
		f, err := fc.File()
		if err != nil {
			return nil, fmt.Errorf("duplicating the connection: %w", err)
		}
		defer f.Close()
		nc, err := net.FileConn(f)
		if err != nil {
			return nil, fmt.Errorf("duplicating the connection: %w", err)
		}
		return nc, nil
	}
	nc := c.Conn
	nc.SetDeadline(time.Time{})
	c.Conn = detachedConn{nc}
	return nc, nil
}

// detachedConn stands in a Net for the connection it handed over:
// closing it, or cutting it, is the new owner's business.
type detachedConn struct{ net.Conn }

func (detachedConn) Close() error                     { return nil }
func (detachedConn) Read([]byte) (int, error)         { return 0, net.ErrClosed }
func (detachedConn) Write([]byte) (int, error)        { return 0, net.ErrClosed }
func (detachedConn) SetDeadline(time.Time) error      { return nil }
func (detachedConn) SetReadDeadline(time.Time) error  { return nil }
func (detachedConn) SetWriteDeadline(time.Time) error { return nil }
