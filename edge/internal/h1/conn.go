package h1

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// One connection, one goroutine: read a head, build the request, call the
// handler, finish the response, decide whether to keep the connection, and
// go on with the next head (pipelined ones are already in the buffer).
//
// While a handler that waits on its context has run for watchDelay with
// nothing left to read of the request, one goroutine reads ahead, as
// net/http does (reader.go): it is how a client that leaves is noticed
// (its request's context is cancelled, so the upstream request is
// abandoned), and what it reads, if it is the next request, is kept. It
// is skipped when the next request is already buffered: that client is
// there.

type conn struct {
	srv    *Server
	rwc    net.Conn
	remote string
	cr     connReader
	br     *bufio.Reader
	bw     *bufio.Writer
	head   head
	body   body
	w      response
	state  atomic.Uint64 // http.ConnState<<56 | unix milliseconds of the change

	req      *reqCtx // the current request's context
	hijacked bool

	// The write deadline as the handlers set it (deadline.go).
	wmu      sync.Mutex
	wdl      time.Time
	wdlStale atomic.Bool // wdl is a previous request's
}

// bufPool holds the connections' read and write buffers while they are
// idle between requests... and between connections.
var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4096) }}
)

type connKey struct{}

func (s *Server) newConn(rwc net.Conn) *conn {
	rwc = wrapTCP(rwc) // raw reads and writes (rawtcp_linux.go)
	c := &conn{srv: s, rwc: rwc, remote: rwc.RemoteAddr().String()}
	c.cr.c = c
	c.cr.cond.L = &c.cr.mu
	c.body.c = c
	c.w.c = c
	return c
}

// serve runs the connection to its end.
func (c *conn) serve() {
	defer c.close()
	c.br = readerPool.Get().(*bufio.Reader)
	c.br.Reset(&c.cr)
	c.bw = writerPool.Get().(*bufio.Writer)
	c.bw.Reset(connWriter{c})
	c.body.br = c.br
	first := true
	for {
		if !c.awaitRequest(first) {
			return
		}
		first = false
		c.setState(http.StateActive)
		var r http.Request // on the stack: the handler's is its copy with the context
		ctx := &reqCtx{c: c}
		r.URL = &ctx.url // parsed into (head.parse): one allocation for both
		if err := c.readRequest(&r); err != nil {
			c.refuse(err)
			return
		}
		keep := c.serveRequest(&r, ctx)
		if c.hijacked {
			return
		}
		if !keep {
			c.closeWrite()
			return
		}
		// An answer that went out before Shutdown promised the client
		// another request: the next one is served (its answer says
		// Connection: close), or Shutdown ends the wait (closeIdle).
		c.setState(http.StateIdle)
	}
}

// awaitRequest waits for the first byte of the next request, for the
// keep-alive timeout (the header timeout for a connection's first).
func (c *conn) awaitRequest(first bool) bool {
	if c.br.Buffered() > 0 {
		return true
	}
	wait := c.srv.IdleTimeout
	if first || wait <= 0 {
		wait = c.srv.ReadHeaderTimeout
	}
	if wait > 0 {
		// Also for the read-ahead, if one still waits: it becomes the
		// wait for the next request.
		now := time.Now()
		c.cr.waitDeadline(now.Add(wait), now)
	}
	if !c.cr.awaitBackgroundRead() {
		return false
	}
	if _, err := c.br.Peek(1); err != nil {
		return false
	}
	return true
}

// readRequest reads and parses one head.
func (c *conn) readRequest(r *http.Request) error {
	s := c.srv
	soft, lineMax := 0, 0
	if s.Limits != nil {
		soft, lineMax = s.Limits()
	}
	// The head's deadline (ReadHeaderTimeout) is set only if the head
	// needs a read(2) of its own (deadline.go).
	c.cr.startHead()
	err := c.head.read(c.br, s.MaxHeaderBytes, lineMax)
	c.cr.endHead()
	if err != nil {
		return err
	}
	r.RemoteAddr = c.remote
	if err := c.head.parse(r, soft, lineMax); err != nil {
		return err
	}
	// As net/http: "100-continue" is honoured (HTTP/1.1, with a body),
	// any other expectation refused.
	if exp, ok := r.Header["Expect"]; ok && !containsToken(exp, "100-continue") && len(exp) > 0 && exp[0] != "" {
		return &headError{http.StatusExpectationFailed, "unsupported Expect"}
	}
	return nil
}

// serveRequest runs the handler for r and reports whether the connection
// can serve another request.
func (c *conn) serveRequest(parsed *http.Request, ctx *reqCtx) (keep bool) {
	c.req = ctx
	// WithContext, inlined, copies into a Request that does not escape;
	// the one the handler gets is the context's own (no allocation).
	ctx.req = *parsed.WithContext(ctx)
	r := &ctx.req
	b := &c.body
	b.closed, b.sawEOF, b.err, b.inChunk = false, false, nil, false
	b.chunked = r.ContentLength < 0
	b.remain = r.ContentLength
	hasBody := b.chunked || b.remain > 0
	b.framed = hasBody
	b.continue_ = hasBody && r.ProtoMinor >= 1 && containsToken(r.Header["Expect"], "100-continue")
	if hasBody {
		// The keep-alive wait's read deadline may still be set.
		c.cr.setReadDeadline(time.Time{})
	}
	c.cr.setInHandler(true)
	if hasBody {
		r.Body = b
	} else {
		b.sawEOF = true
		r.Body = http.NoBody
	}
	w := &c.w
	w.reset(r)
	defer ctx.cancel()
	func() {
		defer c.cr.setInHandler(false)
		defer func() {
			if v := recover(); v != nil {
				if v != http.ErrAbortHandler {
					c.srv.logf("h1: panic serving %s: %v", c.remote, v)
				}
				w.aborted = true
			}
		}()
		c.srv.Handler.ServeHTTP(w, r)
	}()
	if c.hijacked {
		return false
	}
	if w.aborted {
		c.cr.abortPendingRead()
		return false
	}
	if !w.wroteHdr && ctx.Err() != nil {
		// The client left (a read failed, or it closed its side) and
		// the handler, told so by the context, answered nothing: no
		// answer is made up for it (net/http would send an empty 200;
		// nginx closes, its 499).
		c.cr.abortPendingRead()
		return false
	}
	// A read-ahead still waiting goes on into the wait for the next
	// request (awaitRequest), unless the connection ends.
	keep = w.finish() && !r.Close && c.head.problem == ProblemNone
	if w.deadline {
		// The handler's write deadline was this response's (net/http
		// clears it too): kept, it would fall, long past, on the answer
		// to a later request that writes no body to renew it. It is
		// cleared before that answer's first write, unless that
		// request sets its own.
		c.endWriteDeadline()
	}
	if !keep {
		c.cr.abortPendingRead()
		b.Close()
		return false
	}
	if !b.finishWithin(c) {
		c.cr.abortPendingRead()
		return false
	}
	return true
}

// finishWithin drains what the handler left of the body, bounded in time
// as well as in size.
func (b *body) finishWithin(c *conn) bool {
	if !b.sawEOF {
		t := c.srv.IdleTimeout
		if t <= 0 {
			t = 5 * time.Second
		}
		c.cr.setReadDeadline(time.Now().Add(t))
		defer c.cr.setReadDeadline(time.Time{})
	}
	return b.finish()
}

// bodyDone is called when the request body has been read to its end
// (b.mu held): the watch can start, if the handler wants it.
func (c *conn) bodyDone() {
	if c.req.watching() {
		c.cr.armWatch()
	}
}

// watch starts watching the client for a handler that waits on its
// context, once the body is read (before, a read of the body notices a
// client gone): the read-ahead starts if the handler still runs
// watchDelay later.
func (c *conn) watch() {
	c.body.mu.Lock()
	eof := c.body.sawEOF
	c.body.mu.Unlock()
	if eof {
		c.cr.armWatch()
	}
}

// writeContinue tells a client that waits for it to send its body.
func (c *conn) writeContinue() error {
	if c.w.committed {
		return nil
	}
	if _, err := c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
		return err
	}
	return c.bw.Flush()
}

// refuse answers a head the server will not serve, and closes.
func (c *conn) refuse(err error) {
	var he *headError
	if !errors.As(err, &he) {
		return // the client left, or timed out: nothing to answer
	}
	var msg string
	switch he.status {
	case http.StatusRequestURITooLong:
		msg = "HTTP/1.1 414 Request-URI Too Long\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n414 Request-URI Too Long\n"
	case http.StatusRequestHeaderFieldsTooLarge:
		msg = "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large"
	default:
		text := http.StatusText(he.status)
		msg = "HTTP/1.1 " + itoa(he.status) + " " + text + "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" + itoa(he.status) + " " + text + ": " + he.reason
	}
	c.setWriteDeadline(time.Now().Add(time.Second))
	io.WriteString(c.rwc, msg)
	_, body, _ := cut(msg, '\n')
	for {
		var line string
		line, body, _ = cut(body, '\n')
		if line == "\r" || body == "" {
			break
		}
	}
	if f := c.srv.Refused; f != nil {
		f(c.rwc, c.head.requestLine(maxLoggedLine), he.status, int64(len(body)))
	}
	c.closeWrite()
}

// maxLoggedLine bounds the request line given to Refused.
const maxLoggedLine = 2 << 10

// closeWrite ends a connection the server closes while the client may
// still be sending: it shuts the write side (the client reads the answer
// to its end) and reads what arrives for a moment, so that closing with
// unread data does not reset the answer away (net/http's
// closeWriteAndWait).
func (c *conn) closeWrite() {
	c.bw.Flush()
	cw, ok := c.rwc.(interface{ CloseWrite() error })
	if !ok {
		return
	}
	cw.CloseWrite()
	c.cr.setReadDeadline(time.Now().Add(rstAvoidanceDelay))
	var buf [512]byte
	for {
		if _, err := c.rwc.Read(buf[:]); err != nil {
			return
		}
	}
}

const rstAvoidanceDelay = 500 * time.Millisecond

func (c *conn) close() {
	if c.req != nil {
		c.req.cancel()
	}
	if c.hijacked {
		c.releaseBuffers(true) // the hijacker has its own
		return
	}
	c.rwc.Close()
	c.setState(http.StateClosed)
	c.releaseBuffers(true)
}

func (c *conn) releaseBuffers(reader bool) {
	if c.bw != nil {
		c.bw.Reset(nil)
		writerPool.Put(c.bw)
		c.bw = nil
	}
	if reader && c.br != nil {
		c.br.Reset(nil)
		readerPool.Put(c.br)
		c.br = nil
	}
}

func (c *conn) setState(st http.ConnState) {
	c.state.Store(uint64(st)<<56 | uint64(time.Now().UnixMilli()))
	c.srv.trackState(c, st)
	if f := c.srv.ConnState; f != nil {
		f(c.rwc, st)
	}
}

func (c *conn) getState() (http.ConnState, int64) {
	v := c.state.Load()
	return http.ConnState(v >> 56), int64(v & (1<<56 - 1))
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		if n /= 10; n == 0 {
			break
		}
	}
	return string(b[i:])
}

// ProblemOf returns the framing or size problem of the request whose
// context is ctx, if an h1 server read it (ProblemNone otherwise).
func ProblemOf(ctx context.Context) Problem {
	if x, ok := ctx.(*reqCtx); ok {
		return x.c.head.problem
	}
	if c, ok := ctx.Value(connKey{}).(*conn); ok {
		return c.head.problem
	}
	return ProblemNone
}
