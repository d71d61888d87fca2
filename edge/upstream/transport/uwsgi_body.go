package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// uwsgiBody is the response body: it renews the read deadline before each
// read (a pause longer than ReadTimeout is a timeout, as nginx counts it)
// and closes the connection on Close, or keeps it when the server offered
// that and the body was read to its end.
type uwsgiBody struct {
	body    io.ReadCloser
	conn    upstreamConn
	br      *bufio.Reader
	rd      connReader   // what br reads: the connection, and the client's watch
	head    responseHead // the response this is the body of
	timeout time.Duration
	ctx     context.Context
	addr    string
	closed  bool
	keep    *UwsgiTransport // whose pool takes the connection back, if it may
	chunked bool            // the body is chunked: its trailer follows the end
	done    bool            // the body was read to its end
}

func (b *uwsgiBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.br.Buffered() == 0 {
		// This read may wait on the server: renew the deadline. What is
		// already buffered (all of most responses) needs none.
		b.rd.arm(b.timeout)
	}
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.done = true
		if b.chunked && b.keep != nil && chunkedEnd(b.br) != nil {
			b.keep = nil // the body is whole; the connection is not
		}
	} else if err != nil {
		err = b.bodyError(err)
	}
	return n, err
}

// Buffered is how many bytes of the response have arrived and not been
// read: the proxy sends the head at once when none has.
func (b *uwsgiBody) Buffered() int {
	if b.closed {
		return 0
	}
	return b.br.Buffered()
}

// Whole returns the rest of a body of known length when all of it has
// arrived (it is in the reader's buffer: most answers of a local app
// server), and counts it as read. The bytes are the reader's: the caller
// writes them out before Close, in one piece and without a copy. Such a
// body needs no response buffering either: the server is done with it.
func (b *uwsgiBody) Whole() ([]byte, bool) {
	e, ok := b.body.(*exactBody)
	if b.closed || !ok || e.n > int64(b.br.Buffered()) {
		return nil, false
	}
	p, _ := b.br.Peek(int(e.n))
	b.br.Discard(len(p)) // p stays valid: nothing reads into br before Close
	e.n = 0
	b.done = true
	return p, true
}

// ReleaseHead says the request is done with the response's head: its
// header map goes back to a pool, and resp.Header is nil from then on. The
// forwarder calls it last (the body may still be read after, by the
// response buffering's pump; the head is not).
func (b *uwsgiBody) ReleaseHead() { b.head.release() }

// bodyError says what went wrong mid-body, naming the server. Whatever it
// is, it is never io.EOF: the proxy must abort the client's response (no
// last chunk, no completed Content-Length) rather than finish it.
func (b *uwsgiBody) bodyError(err error) error {
	switch {
	case b.ctx.Err() != nil:
		// The client went away; its context's watch cut the read.
		return fmt.Errorf("client closed the connection while reading response body from %s: %w", b.addr, b.ctx.Err())
	case IsTimeout(err):
		return &TimeoutError{fmt.Errorf("read_timeout (%v) fired while reading response body from %s: %w", b.timeout, b.addr, err)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("upstream prematurely closed connection while reading response body from %s: %w", b.addr, err)
	}
	return fmt.Errorf("reading response body from %s: %w", b.addr, err)
}

func (b *uwsgiBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	stopped := b.rd.unwatch() // false: the client went away and cut the connection
	if b.keep != nil && b.done && stopped && b.br.Buffered() == 0 {
		// Its read deadline is left as it is: the next exchange arms
		// its own before it reads (send cleared any write deadline).
		b.keep.idle.put(b.conn, b.keep.KeepAlive, b.keep.KeepAliveTimeout)
	} else {
		// Close the connection before the body: closing an unfinished
		// body would otherwise read the rest of it (forever, for a
		// stream).
		b.conn.Close()
	}
	b.body.Close()
	b.br.Reset(nil)
	readerPool.Put(b.br)
	return nil
}

// CloseIdleConnections closes the kept connections, and any handed back
// later: the transport is being retired.
func (t *UwsgiTransport) CloseIdleConnections() { t.idle.close() }
