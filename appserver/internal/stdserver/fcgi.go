// Package stdserver serves an http.Handler over FastCGI (nginx's
// fastcgi_pass, the edge's protocol: fastcgi) and HTTP/1.1 (the edge's
// protocol: http) with the standard library's servers, net/http/fcgi and
// net/http, adding what the appserver owes every protocol: threads,
// harakiri, panics answered 500, a worker's hooks, hijacked connections
// tracked, and a graceful Shutdown that loses no request in flight.
//
// It stands alone because it shares nothing with the appserver's own
// uwsgi server (its connections, its response writer, its watchdog) but
// the contract: package appserver picks it by appserver.protocol
// (appserver.NewService) and names its servers appserver.FCGIServer and
// appserver.HTTPServer.
package stdserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/fcgi"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stack-web/stack/fastcgi"
)

// ErrServerClosed is returned by Serve after Shutdown; appserver's
// ErrServerClosed is this one, so that every protocol's Serve ends alike.
var ErrServerClosed = errors.New("appserver: server closed")

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
	fresh    freshConns // fresh.go
}

// NewFCGIServer returns a FastCGI server of h.
func NewFCGIServer(h http.Handler, o Options) *FCGIServer {
	return &FCGIServer{guard: handlerGuard{Handler: h, Options: o, fcgi: true}}
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
	silent := time.AfterFunc(FreshGrace, s.fresh.stop) // fresh.go
	defer silent.Stop()
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
// as it connects, so it is already in the socket. One that has sent
// nothing at all ends at once (fresh.go); this bounds one that sent some
// bytes and stalled, which must not hold a chain reload until
// shutdown_timeout.
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
	pc := newParamsConn(l.s.fresh.wrap(c))
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
