package appserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/fcgi"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stack-web/stack/fastcgi"

	"github.com/stack-web/stack/appserver/internal/hijack"
)

// Service is a server of one protocol on a listener: *Server (uwsgi),
// *FCGIServer (FastCGI) or *HTTPServer (HTTP/1.1). appserver.protocol picks
// one (NewService); the prefork workers run whichever it is.
type Service interface {
	// Serve accepts on l until Shutdown; then it returns ErrServerClosed.
	Serve(l net.Listener) error
	// Shutdown stops accepting and waits for the requests in flight, or
	// for ctx to end.
	Shutdown(ctx context.Context) error
	// Requests reports how many requests it has answered.
	Requests() uint64
}

// Hooks are what a worker process adds to a Service: its statistics and
// its harakiri exit.
type Hooks struct {
	OnRequest  func(d time.Duration, written int64, panicked bool)
	OnHarakiri func(method, uri string)
	// OnHijack is called with the request (as the handler got it) whose
	// handler took its connection over: from there it is no request that
	// harakiri, or the master's backstop, may count as overdue.
	OnHijack func(r *http.Request)
}

// NewService builds the server of cfg.Protocol around h.
func NewService(cfg Config, h http.Handler, logger *slog.Logger, hooks Hooks) Service {
	var svc Service
	switch cfg.Protocol {
	case "fastcgi":
		svc = &FCGIServer{guard: handlerGuard{Handler: h, Threads: cfg.Threads, Harakiri: cfg.Harakiri, Logger: logger, Hooks: hooks, fcgi: true}}
	case "http":
		svc = &HTTPServer{guard: handlerGuard{Handler: h, Threads: cfg.Threads, Harakiri: cfg.Harakiri, Logger: logger, Hooks: hooks}}
	}
	if svc != nil {
		if allow := cfg.AllowPrefixes(); len(allow) > 0 {
			if logger == nil {
				logger = slog.Default()
			}
			svc = allowService{Service: svc, allow: allow, logger: logger}
		}
		return svc
	}
	return &Server{Handler: h, BufferSize: cfg.BufferSize, Threads: cfg.Threads, Harakiri: cfg.Harakiri,
		QueueTimeout: cfg.QueueTimeout, SocketTimeout: cfg.SocketTimeout, LogRequests: cfg.LogRequests,
		Allow: cfg.AllowPrefixes(), Logger: logger,
		OnRequest: hooks.OnRequest, OnHarakiri: hooks.OnHarakiri, OnHijack: hooks.OnHijack}
}

// FCGIServer serves FastCGI (nginx's fastcgi_pass, the edge's protocol:
// fastcgi) with net/http/fcgi, adding what the appserver owes every
// protocol: threads, harakiri, panics answered 500 (net/http/fcgi would
// let one kill the process), a worker's hooks and a graceful Shutdown.
type FCGIServer struct {
	guard handlerGuard

	mu       sync.Mutex
	closing  bool
	listener net.Listener
	accepted chan struct{} // closed when Serve's accept loop has ended
	conns    map[net.Conn]struct{}
}

// NewFCGIServer returns a FastCGI server of h with the default settings.
func NewFCGIServer(h http.Handler) *FCGIServer {
	return &FCGIServer{guard: handlerGuard{Handler: h, fcgi: true}}
}

// Serve serves FastCGI on l until Shutdown.
func (s *FCGIServer) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listener = l
	s.accepted = make(chan struct{})
	s.mu.Unlock()
	err := fcgi.Serve(trackingListener{l, s}, http.HandlerFunc(s.serveHTTP))
	close(s.accepted)
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		return ErrServerClosed
	}
	return fmt.Errorf("appserver: fastcgi: accept on %s: %w", l.Addr(), err)
}

// serveHTTP makes the request net/http/fcgi built (with cgi.RequestFromMap)
// look as a Go server's: an origin-form URL and a RequestURI, which it
// leaves out.
func (s *FCGIServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.RequestURI == "" {
		r.RequestURI = r.URL.RequestURI()
	}
	r.URL.Scheme, r.URL.Host = "", ""
	s.guard.ServeHTTP(w, r)
}

// Requests reports how many requests it has answered.
func (s *FCGIServer) Requests() uint64 { return s.guard.served.Load() }

// Shutdown closes the listener, waits for the requests in flight (or
// ctx), then closes the connections left, idle ones kept by the peer. A
// request is in flight from its connection's accept (its records may not
// have been read yet) to its END_REQUEST, not only while its handler
// runs: closing a connection whose request was read but not yet handled,
// or answered but not yet ended, resets it (nginx: "recv() failed (104:
// Connection reset by peer)", a 502), which lost requests on every chain
// reload.
func (s *FCGIServer) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	var err error
	if s.listener != nil {
		err = s.listener.Close()
	}
	accepted := s.accepted
	s.mu.Unlock()
	if accepted != nil {
		// A connection Accept returned as the listener closed is in
		// s.conns once the accept loop has ended.
		select {
		case <-accepted:
		case <-ctx.Done():
		}
	}
	if werr := s.drain(ctx); werr != nil {
		err = werr
	}
	// Closed outside the lock: a connection closing itself at the same
	// moment takes it (trackedConn.Close).
	s.mu.Lock()
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	return err
}

// fcgiFirstRecordWait is how long Shutdown waits for a connection that
// has sent no BEGIN_REQUEST yet: a web server writes its request as soon
// as it connects, so it is already in the socket; a peer that connected
// and stays silent must not hold a chain reload until shutdown_timeout.
const fcgiFirstRecordWait = time.Second

// drain waits for the handlers and the connections in flight, or ctx. It
// polls, as handlerGuard.wait does.
func (s *FCGIServer) drain(ctx context.Context) error {
	if err := s.guard.wait(ctx); err != nil {
		return err
	}
	silent := time.Now().Add(fcgiFirstRecordWait)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for s.busyConns(time.Now().Before(silent)) > 0 {
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("appserver: fastcgi: %d connections still in a request at the shutdown deadline: %w", s.busyConns(false), ctx.Err())
		}
	}
	return s.guard.wait(ctx)
}

// busyConns counts the connections with a request in flight, and (if
// fresh) those that have not sent their first one yet.
func (s *FCGIServer) busyConns(fresh bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		if tc := c.(*trackedConn); tc.busy() || fresh && tc.begun.Load() == 0 {
			n++
		}
	}
	return n
}

// trackingListener records the FastCGI server's connections, which
// net/http/fcgi does not expose, so that Shutdown can close them.
type trackingListener struct {
	net.Listener
	s *FCGIServer
}

func (l trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	pc := newParamsConn(c)
	tc := &trackedConn{Conn: pc, s: l.s}
	pc.onBegin = func() { tc.begun.Add(1) }
	l.s.mu.Lock()
	if l.s.conns == nil {
		l.s.conns = map[net.Conn]struct{}{}
	}
	l.s.conns[tc] = struct{}{}
	l.s.mu.Unlock()
	return tc, nil
}

// trackedConn counts the requests begun (BEGIN_REQUEST records read) and
// ended (END_REQUEST records written: net/http/fcgi writes each record
// in one Write) on a connection.
type trackedConn struct {
	net.Conn
	s            *FCGIServer
	once         sync.Once
	begun, ended atomic.Int64
}

// busy reports whether a request is in flight: one begun and not ended.
func (c *trackedConn) busy() bool { return c.begun.Load() > c.ended.Load() }

func (c *trackedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n >= fastcgi.HeaderSize && p[0] == fastcgi.Version1 && p[1] == fastcgi.TypeEndRequest {
		c.ended.Add(1)
	}
	return n, err
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
	})
	return c.Conn.Close()
}

// HTTPServer serves HTTP/1.1 with keep-alive (the edge's protocol: http)
// with net/http's server, adding threads, harakiri and a worker's hooks.
type HTTPServer struct {
	guard handlerGuard
	once  sync.Once
	srv   *http.Server
}

func (s *HTTPServer) server() *http.Server {
	s.once.Do(func() {
		s.srv = &http.Server{Handler: &s.guard, ReadHeaderTimeout: 60 * time.Second, IdleTimeout: 75 * time.Second}
		if s.guard.Logger != nil {
			s.srv.ErrorLog = slog.NewLogLogger(s.guard.Logger.Handler(), slog.LevelWarn)
		}
	})
	return s.srv
}

// Serve serves HTTP on l until Shutdown.
func (s *HTTPServer) Serve(l net.Listener) error {
	err := s.server().Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return ErrServerClosed
	}
	return err
}

// Shutdown stops accepting, closes idle connections and waits for the rest.
// Requests reports how many requests it has answered.
func (s *HTTPServer) Requests() uint64 { return s.guard.served.Load() }

func (s *HTTPServer) Shutdown(ctx context.Context) error {
	err := s.server().Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	// net/http's Shutdown does not see hijacked connections.
	return errors.Join(err, s.guard.hijacks.Shutdown(ctx, s.guard.logger()))
}

// handlerGuard wraps the app for the FastCGI and HTTP servers: it bounds
// concurrency (Threads: the rest wait), answers a panic with 500, cancels
// a request past Harakiri (and tells the worker, which then exits), and
// reports each request to the worker's OnRequest.
type handlerGuard struct {
	Handler  http.Handler
	Threads  int
	Harakiri time.Duration
	Logger   *slog.Logger
	Hooks

	once     sync.Once
	slots    chan struct{}
	inflight atomic.Int64
	served   atomic.Uint64
	fcgi     bool         // Hijack is not supported (hijack.go)
	hijacks  hijack.Conns // over http, the connections handlers hijacked
}

func (g *handlerGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.inflight.Add(1)
	defer g.inflight.Add(-1)
	g.once.Do(func() {
		if g.Threads > 0 {
			g.slots = make(chan struct{}, g.Threads)
		}
	})
	if g.slots != nil {
		select {
		case g.slots <- struct{}{}:
			defer func() { <-g.slots }()
		case <-r.Context().Done():
			return
		}
	}
	start := time.Now()
	cw := &countingWriter{ResponseWriter: w, guard: g}
	if g.Harakiri > 0 {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		r = r.WithContext(ctx)
		t := time.AfterFunc(g.Harakiri, func() {
			g.logger().Error("appserver: harakiri: request ran too long", "method", r.Method, "uri", r.RequestURI, "harakiri", g.Harakiri)
			// The worker hears of it (and stops accepting) before the
			// handler wakes to answer.
			if g.OnHarakiri != nil {
				g.OnHarakiri(r.Method, r.RequestURI)
			}
			cancel()
		})
		defer t.Stop()
		cw.harakiri = t
	}
	cw.req = r // the handler's, for OnHijack
	panicked := g.call(cw, r)
	g.served.Add(1)
	if g.OnRequest != nil {
		g.OnRequest(time.Since(start), cw.written.Load(), panicked)
	}
}

// call runs the handler; a panic is logged with its stack and answered
// 500 when the response has not started.
func (g *handlerGuard) call(w *countingWriter, r *http.Request) (panicked bool) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v) // the handler's way to abort the response, as net/http knows it
			}
			panicked = true
			g.logger().Error("appserver: panic serving request", "method", r.Method, "uri", r.RequestURI, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if !w.started.Load() {
				http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			}
		}
	}()
	g.Handler.ServeHTTP(w, r)
	return false
}

// wait waits for the handlers in flight, or for ctx. It polls: a
// WaitGroup may not be waited on while a kept-alive connection can still
// start a request.
func (g *handlerGuard) wait(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for g.inflight.Load() > 0 {
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("appserver: requests still running at the shutdown deadline: %w", ctx.Err())
		}
	}
	return nil
}

func (g *handlerGuard) logger() *slog.Logger {
	if g.Logger != nil {
		return g.Logger
	}
	return slog.Default()
}

// countingWriter counts the body bytes written and whether the response
// has started; Unwrap lets http.ResponseController reach Flush.
type countingWriter struct {
	http.ResponseWriter
	written  atomic.Int64
	started  atomic.Bool
	guard    *handlerGuard
	harakiri *time.Timer // stopped by a Hijack (hijack.go)
	req      *http.Request
}

func (w *countingWriter) WriteHeader(code int) {
	if code >= 200 {
		w.started.Store(true)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.started.Store(true)
	n, err := w.ResponseWriter.Write(p)
	w.written.Add(int64(n))
	return n, err
}

func (w *countingWriter) Flush() {
	w.started.Store(true)
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
