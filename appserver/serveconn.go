package appserver

import (
	"io"
	"net/http"
	"time"

	"github.com/stack-web/stack/appserver/internal/sockconn"
	"github.com/stack-web/stack/uwsgi"
)

// Keep-alive between the edge and the app server (uwsgi.VarKeepAlive).
//
// The uwsgi protocol has no way to end a response but closing the
// connection, so nginx's uwsgi_pass and uWSGI use a connection per request:
// a connect, an accept and two closes, and a new goroutine here, on every
// request. Both ends of the edge↔appserver hop are ours, so they negotiate
// more, in a way a real uWSGI or nginx never sees:
//
//   - the edge adds the var uwsgi.VarKeepAlive (with STACK_RESPONSE_FRAMING=
//     chunked, so every response has an explicit end);
//   - a server willing to read another request on the connection says so in
//     the response header uwsgi.KeepAliveHeader, which the edge removes. A real
//     uWSGI ignores the var and closes as always, so the edge never pools
//     its connections;
//   - after a complete response the server waits up to keepAliveIdle for the
//     next packet. It closes instead when the response was not complete, the
//     request body was not consumed, or it is shutting down (an idle
//     connection is closed at once then; the edge re-sends a request that
//     found its pooled connection closed before any byte of an answer, and
//     sends only idempotent requests on pooled connections).
//
// With Threads set, a connection carries one request, so that an idle one
// never holds a slot.
const (
	// keepAliveIdle is how long an idle connection is kept: longer than the
	// edge keeps one in its pool (keepalive_timeout, 60s at most by
	// default), so that the edge, not the server, ends an idle connection.
	keepAliveIdle = 75 * time.Second
)

// The states of a connection, for Shutdown to close idle ones without
// racing a request that just arrived.
const (
	connActive int32 = iota
	connIdle
	connClosing
)

// serveConn serves connection cs: one request, or with a peer that asked
// for keep-alive, one after another until either side closes.
func (s *Server) serveConn(cs *conn) {
	bufs := getBuffers(cs.c)
	defer putBuffers(bufs)
	if s.awaitFirst(cs, bufs) && s.serveRequest(cs, bufs) {
		s.serveKept(cs, bufs)
	}
}

// serveKept serves the next requests of a kept connection, until either
// side closes it.
func (s *Server) serveKept(cs *conn, bufs *connBuffers) {
	for {
		if !s.awaitRequest(cs, bufs) {
			cs.c.Close()
			return
		}
		if !s.serveRequest(cs, bufs) {
			return
		}
	}
}

// getBuffers takes a connection's buffers from the pool, reading from and
// writing to c.
func getBuffers(c sockconn.Conn) *connBuffers {
	bufs := bufPool.Get().(*connBuffers)
	bufs.br.Reset(c)
	bufs.bw.Reset(c)
	return bufs
}

func putBuffers(bufs *connBuffers) {
	bufs.br.Reset(nil)
	bufs.bw.Reset(nil)
	bufs.vars = bufs.vars[:0]
	bufs.pending = bufs.pending[:0]
	bufPool.Put(bufs)
}

// awaitRequest waits, idle, for the next packet on a kept connection. It
// reports false when the connection is to be closed: the peer closed it,
// it idled out, or the server is shutting down.
func (s *Server) awaitRequest(cs *conn, bufs *connBuffers) bool {
	cs.state.Store(connIdle)
	if s.shutdown.Load() { // Shutdown may have looked before it was idle
		return false
	}
	c := cs.c
	c.ReadTimeout(keepAliveIdle)
	_, err := bufs.br.Peek(1)
	c.ReadTimeout(s.socketTimeout())
	// Shutdown closes an idle connection by moving it to connClosing; a
	// packet that arrived at the same moment is then not served, and the
	// edge, which only sends idempotent requests on a kept connection,
	// sends it again on a new one.
	return err == nil && cs.state.CompareAndSwap(connIdle, connActive)
}

// closeIdle closes the connections waiting for a next request.
func (s *Server) closeIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(connIdle, connClosing) {
			c.c.Abort()
		}
	}
}

// serveRequest reads one packet from cs and answers it. It reports whether
// the connection may carry another request; when it may not, it has
// closed it.
func (s *Server) serveRequest(cs *conn, bufs *connBuffers) (keep bool) {
	c := cs.c
	// The edge writes a packet at once; a peer trickling it in, a byte
	// within each socket_timeout, would hold this connection (and a
	// threads slot) for ever.
	until := cs.firstUntil // a new connection's: from its accept
	if until.IsZero() {
		until = time.Now().Add(s.socketTimeout())
	}
	cs.firstUntil = time.Time{}
	c.ReadsUntil(until)
	p, err := uwsgi.ReadPacket(bufs.br, s.BufferSize, bufs.vars)
	c.ReadsUntil(time.Time{})
	if err != nil {
		if err != io.EOF {
			// Nothing useful can be written: the peer is not speaking uwsgi,
			// or the framing is broken. Close, as uWSGI does.
			s.logger().Warn("appserver: bad packet; closing the connection", "err", err)
		}
		c.Close()
		return false
	}
	bufs.vars = p.Vars[:0] // keep a grown slice for the next request
	cl, err := p.ContentLength()
	if err != nil {
		s.badRequest(c, bufs.bw, err)
		return false
	}
	if s.QueueTimeout > 0 && s.queuedTooLong(p.Vars.Value("STACK_REQUEST_START"), cs.accepted) {
		s.overloaded(c, bufs.bw)
		closeAfterBody(c, &requestBody{r: bufs.br, n: cl})
		return false
	}

	chunked := p.Vars.Value("STACK_RESPONSE_FRAMING") == "chunked"
	askedKeep := p.Vars.Value(uwsgi.VarKeepAlive) == "1"
	w := &response{out: bufs.bw, log: s.logger(), pending: bufs.pending[:0], header: make(http.Header, 4),
		chunked:   chunked,
		keepAlive: chunked && s.Threads == 0 && askedKeep, stopping: &s.shutdown,
		srv: s, cs: cs, br: bufs.br}
	w.body = requestBody{r: bufs.br, n: cl}
	body := &w.body // in the response's allocation
	// The request's context (reqctx.go), in the response's allocation: the
	// harakiri watchdog cancels it, and it ends when the handler returns,
	// as net/http's does, harakiri or not, so that a goroutine or an
	// AfterFunc waiting on it does not stay for ever, one per request.
	w.ctx.Context = s.baseContext()
	defer w.ctx.cancel()
	req, err := uwsgi.NewRequest(&w.ctx, p, body)
	if err != nil {
		s.badRequest(c, bufs.bw, err)
		return false
	}
	w.req = req
	start := time.Now()
	if s.Harakiri > 0 {
		// The watchdog may answer 504 on the connection itself, so the
		// response's writes go through a gate it can close.
		if cs.gate == nil {
			cs.gate = &gate{Conn: c}
			if cs.id == 0 { // not on an accept loop, which has its label
				cs.id = s.connIDs.Add(1)
				labelConn(cs.id) // the same goroutine serves every request of cs
			}
		}
		bufs.bw.Reset(cs.gate)
		cs.begin(req, &w.ctx, start)
	}
	returned := false
	defer func() {
		if !returned { // runtime.Goexit in the handler (goexit.go)
			s.handlerExited(cs, w, start)
		}
	}()
	panicked := s.callHandler(w, req)
	returned = true
	if s.Harakiri > 0 {
		cs.end()
	}
	bufs.pending = w.pending[:0]
	if w.hijacked {
		return s.hijackEnded(cs, w, start, panicked) // the connection is the handler's now
	}
	// A kept connection's answer goes out with the wait for the next
	// request (sockconn's hold.go): the read after it would find nothing.
	// Not with request logging, whose write would come first: between
	// the handler's end and its answer's write there is no system call
	// (a worker killed there loses an answer whose handler ran).
	holder, _ := c.(writeHolder)
	hold := holder != nil && w.keepAlive && body.n == 0 && !s.LogRequests
	if hold {
		holder.HoldWrites()
	}
	err = w.finish()
	if err != nil {
		s.logger().Debug("appserver: writing the response failed", "uri", req.RequestURI, "request_id", requestID(req), "err", err)
		if w.aborted && !w.chunking {
			// A body delimited by the close must not end in an orderly
			// close, which the peer would take for its end: reset.
			c.Reset()
		}
	}
	s.served.Add(1)
	if s.LogRequests {
		s.logRequest(w, start, panicked)
	}
	if s.OnRequest != nil {
		s.OnRequest(time.Since(start), w.written, panicked)
	}
	if err == nil && w.keepAlive && w.complete() && !cs.killed.Load() {
		if body.n > 0 && body.n <= maxDrain {
			body.drain()
		}
		// Anything buffered past the packet was not asked for: the peer
		// does not pipeline, so it is a broken one.
		if body.n == 0 && bufs.br.Buffered() == 0 {
			return true // what is held goes out with the next read
		}
	}
	if hold {
		if err := holder.ReleaseWrites(); err != nil {
			s.logger().Debug("appserver: writing the response failed", "uri", req.RequestURI, "request_id", requestID(req), "err", err)
		}
	}
	closeAfterBody(c, body)
	return false
}

// writeHolder is a connection that can keep an answer's last bytes for
// the read of the next request (sockconn.FD.HoldWrites).
type writeHolder interface {
	HoldWrites()
	ReleaseWrites() error
}
