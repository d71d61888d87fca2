package transport

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Protocol upgrades (WebSocket). httputil.ReverseProxy switches protocols
// when a transport answers an upgrade request with 101 and a Body that is
// an io.ReadWriteCloser: the connection itself, which it then copies both
// ways until either side closes. A connection so handed over is never
// pooled again.

// upgradeType returns the protocol an upgrade request asks for ("" when it
// asks for none): Connection must list "upgrade", as RFC 9110 §7.8 wants
// and httputil.ReverseProxy checks.
func upgradeType(h http.Header) string {
	for _, v := range h["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return h.Get("Upgrade")
			}
		}
	}
	return ""
}

// upgradedConn is the body of a uwsgi server's 101: what it sent after the
// head (already in br) and then the connection, both ways. Close is safe
// from any goroutine while a Read waits (ReverseProxy closes it from its
// own); the reader is then left to the collector rather than pooled, as a
// Read may still hold it.
type upgradedConn struct {
	br   *bufio.Reader
	conn upstreamConn
	rd   *connReader // the client's watch
	once sync.Once
}

func (c *upgradedConn) Read(p []byte) (int, error)  { return c.br.Read(p) }
func (c *upgradedConn) Write(p []byte) (int, error) { return c.conn.Write(p) }

func (c *upgradedConn) Close() error {
	var err error
	c.once.Do(func() {
		c.rd.unwatch()
		err = c.conn.Close()
	})
	return err
}

// CloseWrite passes a half-close on, as ReverseProxy does when the client
// has ended its side: the app reads the end of the stream and closes in
// turn (ReverseProxy then waits for that). A Unix connection from
// unixconn.Dial is an *os.File underneath, which has no CloseWrite of its own.
func (c *upgradedConn) CloseWrite() error {
	switch conn := c.conn.(type) {
	case interface{ CloseWrite() error }:
		return conn.CloseWrite()
	case syscall.Conn:
		rc, err := conn.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := rc.Control(func(fd uintptr) { serr = syscall.Shutdown(int(fd), syscall.SHUT_WR) }); err != nil {
			return err
		}
		return serr
	}
	return c.Close()
}

// upgrade turns the response of a uwsgi server that switched protocols
// into one whose Body is the connection. The read and send timeouts of a
// request no longer apply: a WebSocket may be quiet for long, and the
// location's websocket limits (at the edge) bound it instead. The
// request's context still cuts it: rd watches the client from now on (its
// unwatch undoes that at Close), after the deadlines are cleared, so that
// a context already done still cuts the connection.
func upgrade(resp *http.Response, conn upstreamConn, br *bufio.Reader, rd *connReader) *http.Response {
	conn.SetDeadline(time.Time{})
	rd.short = false
	rd.watch()
	resp.Body = &upgradedConn{br: br, conn: conn, rd: rd}
	return resp
}

// upgradedBody is the body of an http server's 101 (the transport's own
// io.ReadWriteCloser), which also ends the request's context on Close.
type upgradedBody struct {
	io.ReadWriteCloser
	cancel context.CancelCauseFunc
}

func (b upgradedBody) Close() error {
	err := b.ReadWriteCloser.Close()
	b.cancel(nil)
	return err
}
