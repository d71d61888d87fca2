package appserver

import (
	"bufio"
	"io"
	"net/http"

	"github.com/stack-web/stack/appserver/internal/sockconn"
)

// closeAfterBody closes c once the response is written. A body the handler
// did not read is drained first (the edge sent it whole), because closing a
// socket with unread data resets it and the peer may lose the response
// (unbit/uwsgi#1371); what cannot be drained quickly is left, after a
// half-close that delivers the end of the response first.
func closeAfterBody(c sockconn.Conn, body *requestBody) {
	if body.n > 0 && body.n <= maxDrain {
		body.drain()
	}
	if body.n > 0 {
		c.CloseWrite()
	}
	c.Close()
}

// requestBody is the request body: exactly n more bytes of the connection.
type requestBody struct {
	r      *bufio.Reader
	n      int64
	closed bool
}

func (b *requestBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.Read(p)
	b.n -= int64(n)
	if err == io.EOF {
		if b.n > 0 {
			err = io.ErrUnexpectedEOF
		} else {
			err = nil
		}
	}
	if b.n == 0 && err == nil {
		err = io.EOF
	}
	return n, err
}

// drain discards what is left of the body.
func (b *requestBody) drain() {
	n, _ := b.r.Discard(int(b.n))
	b.n -= int64(n)
}

// Close marks the body closed for the handler; the rest is drained (or not)
// by the server after the handler returns.
func (b *requestBody) Close() error {
	b.closed = true
	return nil
}
