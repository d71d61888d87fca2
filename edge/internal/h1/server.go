// Package h1 is the edge's HTTP/1.1 server for plaintext connections: a
// lean replacement for net/http's, serving an http.Handler, with a strict
// request parser (head.go), request bodies (body.go), the response writer
// (response.go) and the connection loop (conn.go, reader.go).
//
// It exists for speed: net/http's server costs a request more than the
// rest of the edge's work on a small proxied page (a textproto reader, a
// chunkWriter, a context chain, deadlines set per request), and the edge
// had to parse every head a second time to catch what net/http lets
// through. Here the one parse does both. TLS connections (and HTTP/2) stay
// on net/http.
package h1

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves HTTP/1.x connections with Handler. Its fields are read
// when a connection starts or a request is read; set them before Serve.
type Server struct {
	Handler http.Handler

	// ReadHeaderTimeout bounds the reading of a head (and the wait for a
	// connection's first request); IdleTimeout the wait for the next
	// request on a kept-alive connection (ReadHeaderTimeout if 0).
	ReadHeaderTimeout, IdleTimeout time.Duration

	// MaxHeaderBytes is the hard limit on a head: over it the server
	// answers 431 itself (414 if the request line alone is over the
	// soft line limit). 0: no limit.
	MaxHeaderBytes int

	// Limits returns the soft limits on a head and its request line: a
	// request over them is served with ProblemHeadTooLarge or
	// ProblemLineTooLong, for the handler to refuse. nil: none.
	Limits func() (head, line int)

	// Refused is told of every head the server refuses itself, after the
	// answer is sent: the start of its request line, the status and the
	// answer's body length. nil: not told.
	Refused func(c net.Conn, requestLine string, status int, bodyBytes int64)

	// ConnState is net/http's hook: called on every change of a
	// connection's state.
	ConnState func(net.Conn, http.ConnState)

	// ErrorLog receives handler panics; nil: the log package's.
	ErrorLog *log.Logger

	// ContextServer is the value of http.ServerContextKey in requests'
	// contexts: code that aborts a response by panicking with
	// http.ErrAbortHandler (httputil.ReverseProxy) does so only when it
	// finds one. nil: an empty http.Server.
	ContextServer *http.Server

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	shutdown  atomic.Bool
	wg        sync.WaitGroup // connections' goroutines

	dates atomic.Pointer[dateValue]

	watches watchList // requests whose client is to be watched (watch.go)

	defaultServer     *http.Server
	defaultServerOnce sync.Once
}

func (s *Server) contextServer() *http.Server {
	if s.ContextServer != nil {
		return s.ContextServer
	}
	s.defaultServerOnce.Do(func() { s.defaultServer = &http.Server{} })
	return s.defaultServer
}

type dateValue struct {
	sec int64
	b   []byte
}

// ErrServerClosed is Serve's answer after Shutdown or Close.
var ErrServerClosed = http.ErrServerClosed

// Serve accepts connections on l and serves each in its own goroutine,
// until l fails or the server is shut down.
func (s *Server) Serve(l net.Listener) error {
	if !s.track(l, true) {
		return ErrServerClosed
	}
	defer s.track(l, false)
	pause := 5 * time.Millisecond
	for {
		rwc, err := l.Accept()
		if err != nil {
			if s.shuttingDown() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(pause)
				pause = min(2*pause, time.Second)
				continue
			}
			return err
		}
		pause = 5 * time.Millisecond
		c := s.newConn(rwc)
		if !s.add(c) {
			rwc.Close()
			return ErrServerClosed
		}
		c.setState(http.StateNew)
		go func() {
			defer s.wg.Done()
			c.serve()
		}()
	}
}

func (s *Server) track(l net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.shutdown.Load() {
			return false
		}
		if s.listeners == nil {
			s.listeners = map[net.Listener]struct{}{}
		}
		s.listeners[l] = struct{}{}
	} else {
		delete(s.listeners, l)
	}
	return true
}

func (s *Server) add(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown.Load() {
		return false
	}
	if s.conns == nil {
		s.conns = map[*conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

// forget drops a connection the server no longer owns (hijacked).
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) trackState(c *conn, st http.ConnState) {
	if st == http.StateClosed {
		s.forget(c)
	}
}

func (s *Server) shuttingDown() bool { return s.shutdown.Load() }

// Shutdown stops accepting, closes idle connections, and waits for the
// others to finish their request and close, or for ctx to end (then
// returns its error; Close ends what is left).
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdown.Store(true)
	s.closeListeners()
	wait := time.Millisecond
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		if s.closeIdle() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			wait = min(2*wait, 100*time.Millisecond)
			t.Reset(wait)
		}
	}
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.shutdown.Store(true)
	s.closeListeners()
	s.mu.Lock()
	for c := range s.conns {
		c.rwc.Close()
	}
	s.mu.Unlock()
	return nil
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for l := range s.listeners {
		l.Close()
	}
}

// closeIdle ends the idle connections (and new ones silent for 5 s, as
// net/http) and reports whether none is left.
//
// A connection idle for less than idleGrace is left a moment: its client
// may have a request on the wire, which closing would lose (reset, or an
// EOF where the answer should be); served now, its answer says
// Connection: close. One idle longer is woken (its read deadline made
// past), not closed under it: a request already arrived is still served,
// and with none the connection closes itself with nothing unread.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().UnixMilli()
	for c := range s.conns {
		st, since := c.getState()
		switch {
		case st == http.StateIdle && now-since >= idleGrace.Milliseconds():
		case st == http.StateNew && now-since > 5000:
		default:
			continue
		}
		c.cr.setReadDeadline(aLongTimeAgo)
	}
	// The connections' goroutines see the wake-up and end; until they
	// have, the server is not quiet.
	return len(s.conns) == 0
}

// idleGrace is how long Shutdown leaves a connection that has just gone
// idle: about a round trip, for a request already sent.
const idleGrace = 500 * time.Millisecond

func (s *Server) logf(format string, args ...any) {
	if s.ErrorLog != nil {
		s.ErrorLog.Printf(format, args...)
	} else {
		log.Printf(format, args...)
	}
}

// date returns the Date header's value for now, formatted once a second.
func (s *Server) date() []byte {
	now := time.Now().Unix()
	if d := s.dates.Load(); d != nil && d.sec == now {
		return d.b
	}
	d := &dateValue{now, time.Unix(now, 0).UTC().AppendFormat(make([]byte, 0, 29), http.TimeFormat)}
	s.dates.Store(d)
	return d.b
}

// statusLine returns "code text\r\n".
func statusLine(code int) string {
	switch code {
	case 200:
		return "200 OK\r\n"
	case 204:
		return "204 No Content\r\n"
	case 301:
		return "301 Moved Permanently\r\n"
	case 302:
		return "302 Found\r\n"
	case 304:
		return "304 Not Modified\r\n"
	case 400:
		return "400 Bad Request\r\n"
	case 404:
		return "404 Not Found\r\n"
	case 101:
		return "101 Switching Protocols\r\n"
	}
	text := http.StatusText(code)
	if text == "" {
		text = "status code " + itoa(code)
	}
	return itoa(code) + " " + text + "\r\n"
}
