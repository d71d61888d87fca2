// Package appserver is the application server: it accepts uwsgi requests
// on a socket and serves them with an http.Handler, as uWSGI serves them with
// a WSGI callable and net/http/fcgi.Serve serves FastCGI.
//
// One request per connection, as uWSGI does: the server reads the packet,
// builds the *http.Request, calls the handler, writes a raw HTTP/1.1
// response and closes. Only a peer that negotiates keep-alive (the edge,
// with the var STACK_KEEPALIVE; see serveconn.go) gets another request read
// on the same connection.
//
// Server serves in its own process (appserver.processes: 0). With worker
// processes, package appserver/prefork's Master runs this same Server in
// each worker, all accepting on one inherited socket; this package knows
// nothing of that process model beyond the hooks and listener helpers it
// needs (OnRequest, OnHarakiri, InheritedListener, ListenerFile,
// ListenQueue).
package appserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stack-web/stack/appserver/internal/hijack"
	"github.com/stack-web/stack/appserver/internal/sockconn"
	"github.com/stack-web/stack/appserver/internal/stdserver"

	"github.com/stack-web/stack/appserver/internal/allow"
)

// Server serves uwsgi requests with an http.Handler. The zero value is not
// usable; set Handler. Fields must not change once Serve has been called.
type Server struct {
	// Handler answers every request.
	Handler http.Handler

	// BufferSize is the largest vars block accepted, as uWSGI's
	// buffer-size (default uwsgi.DefaultBufferSize). A larger packet is
	// logged and its connection closed; the edge answers 502.
	BufferSize int

	// Threads bounds how many requests are handled at once; 0 means no
	// bound. When every slot is busy the server stops accepting, so new
	// connections wait in the listen backlog, as with uWSGI's threads.
	Threads int

	// Harakiri is the longest a request may run; 0 disables it. On expiry
	// the request is answered 504 if its response has not started (else
	// its connection is cut, so the peer sees a broken response), the
	// handler's goroutine stack is logged, its context is cancelled and it
	// stops counting against Threads. A goroutine cannot be killed, so a
	// handler that ignores its context runs on; worker processes, which
	// can be killed, end it for real (see OnHarakiri).
	Harakiri time.Duration

	// OnHarakiri, if set, is called (from the watchdog's goroutine) after a
	// request hit Harakiri; a worker process uses it to stop accepting and
	// exit.
	OnHarakiri func(method, uri string)

	// OnHijack, if set, is called with a request whose handler hijacked
	// its connection (a worker then stops counting it as in flight).
	OnHijack func(r *http.Request)

	// QueueTimeout answers 503 with Retry-After: 1, without calling the
	// handler, to a request that waited longer than this for the server:
	// counted from the edge's STACK_REQUEST_START (Unix µs) when present,
	// else from the accept. 0 disables it.
	QueueTimeout time.Duration

	// SocketTimeout bounds each read of the request and each write of the
	// response (uWSGI's socket-timeout, default 4s when zero). The edge has
	// buffered the request, so a packet that trickles in is a broken peer.
	SocketTimeout time.Duration

	// Allow, if not empty, is the allow-list of a TCP listener: a
	// connection from an address outside these prefixes is closed as it is
	// accepted, before any byte is read, and logged (at most once a second).
	// Empty admits everyone (appserver.allow: [all], or a loopback or Unix
	// listener). See allow.go.
	Allow []netip.Prefix

	// Logger receives errors; nil means slog.Default().
	Logger *slog.Logger
	// LogRequests logs a line per request, with its id (requestlog.go).
	LogRequests bool

	// BaseContext, if set, is the parent of every request's context.
	BaseContext context.Context

	// OnRequest, if set, is called after each request with its handler's
	// duration, the body bytes written and whether it panicked (a
	// worker's statistics).
	OnRequest func(d time.Duration, written int64, panicked bool)

	baseOnce   sync.Once
	base       context.Context
	cancelBase context.CancelFunc // cancelled when Shutdown gives up waiting

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	watchdog  sync.Once
	stopWatch chan struct{}  // closed by Shutdown: ends the harakiri watchdog
	watching  sync.WaitGroup // the watchdog goroutine
	shutdown  atomic.Bool
	quit      chan struct{}  // closed by Shutdown: ends the accept loops' waits for a slot
	loops     sync.WaitGroup // the accept loops; Shutdown waits for them before counting connections
	served    atomic.Uint64
	connIDs   atomic.Uint64  // numbers the connections, for their goroutines' labels
	handlers  sync.WaitGroup // one per connection being served
	idle      chan struct{}  // closed when the last connection ends during shutdown
	hijacks   hijack.Conns   // connections handed to their handlers (hijack.go)
}

// ErrServerClosed is returned by Serve after Shutdown or Close, by every
// protocol's server (it is package internal/stdserver's, as os.ErrNotExist
// is fs.ErrNotExist).
var ErrServerClosed = stdserver.ErrServerClosed

// Serve accepts connections on l and serves each with h, using the default
// settings. It returns when l's Accept fails.
func Serve(l net.Listener, h http.Handler) error {
	return (&Server{Handler: h}).Serve(l)
}

// Requests reports how many requests the server has answered.
func (s *Server) Requests() uint64 { return s.served.Load() }

// Serve accepts connections on l until Shutdown or Close, serving each on
// the goroutine that accepted it (acceptloop.go), or with Threads in a
// goroutine of its own. It always returns a non-nil error; after Shutdown
// or Close it is ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	if s.Handler == nil {
		return errors.New("appserver: Serve: no Handler")
	}
	if !s.track(l) {
		return ErrServerClosed
	}
	defer s.untrack(l)
	quit := s.quitChan()
	if s.Harakiri > 0 {
		s.watchdog.Do(s.startWatchdog)
	}

	// The listener's, whatever the number of accept loops.
	budget := new(sockconn.Budget)
	refusals := &allow.RefusalLog{Logger: s.logger(), Interval: time.Second}
	acc := func() acceptor {
		acc := newAcceptor(l, s.socketTimeout(), budget)
		if len(s.Allow) > 0 {
			acc = &allowAcceptor{next: acc, allow: s.Allow, listener: l.Addr().String(), log: refusals}
		}
		return acc
	}
	if s.Threads <= 0 {
		// Served on the accepting goroutines (acceptloop.go).
		p := newAcceptPool(s, l, acc)
		p.start()
		select {
		case <-p.done:
			return p.err
		case <-quit:
			p.stop(ErrServerClosed)
			return ErrServerClosed
		}
	}
	defer s.loops.Done()
	return s.serveThreads(l, acc(), quit)
}

// serveThreads is Serve with Threads: a goroutine per connection, and no
// accept while every slot is busy, so that new connections wait in the
// listen backlog, as with uWSGI's threads.
func (s *Server) serveThreads(l net.Listener, acc acceptor, quit chan struct{}) error {
	slots := make(chan struct{}, s.Threads)
	for {
		select {
		case slots <- struct{}{}:
		case <-quit:
			return ErrServerClosed
		}
		cs, err := acceptConn(s, l, acc)
		if err != nil {
			<-slots
			return err
		}
		cs.release = sync.OnceFunc(func() { <-slots })
		// Even during Shutdown: a connection taken off the queue is served
		// (another worker could have), never dropped unanswered.
		s.trackConn(cs)
		go func() {
			defer s.untrackConn(cs)
			defer cs.release() // unless harakiri released it already
			s.serveConn(cs)
		}()
	}
}

// Shutdown stops accepting (closing the listeners, which removes their
// socket files), then waits for the requests in flight to finish or for ctx
// to end, whichever comes first. When ctx ends first it cancels every
// request's context, cuts their connections and returns at once: a handler
// that ignores its context cannot hold the process past its deadline.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdown.Store(true)
	quit := s.quitChan()
	s.mu.Lock()
	var errs []error
	for l := range s.listeners {
		if err := l.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	select {
	case <-quit:
	default:
		close(quit)
	}
	s.mu.Unlock()
	// The accept loops end at once (their listeners are closed); what they
	// accepted last is tracked by then.
	s.loops.Wait()
	s.closeIdle()
	silent := time.AfterFunc(stdserver.FreshGrace, s.stopSilent) // firstbyte.go
	defer silent.Stop()
	s.mu.Lock()
	if s.idle == nil {
		s.idle = make(chan struct{})
		if len(s.conns) == 0 {
			close(s.idle)
		}
	}
	idle := s.idle
	s.mu.Unlock()

	select {
	case <-idle:
	case <-ctx.Done():
	}
	// Idle first: a stop whose grace the edge used up comes with a context
	// already done, and select picks at random among ready cases; a server
	// with nothing running must not report requests still running.
	select {
	case <-idle:
		s.handlers.Wait()
	default:
		s.baseContext()
		s.cancelBase()
		s.closeConns()
		errs = append(errs, fmt.Errorf("appserver: shutdown: requests still running: %w", ctx.Err()))
	}
	if err := s.hijacks.Shutdown(ctx, s.logger()); err != nil {
		errs = append(errs, err)
	}
	s.mu.Lock()
	if s.stopWatch != nil {
		close(s.stopWatch)
		s.stopWatch = nil
	}
	s.mu.Unlock()
	s.watching.Wait()
	return errors.Join(errs...)
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Shutdown(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// baseContext is the parent of every request's context: BaseContext, made
// cancellable so that Shutdown can end the requests when its time is up.
func (s *Server) baseContext() context.Context {
	s.baseOnce.Do(func() {
		parent := s.BaseContext
		if parent == nil {
			parent = context.Background()
		}
		s.base, s.cancelBase = context.WithCancel(parent)
	})
	return s.base
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Server) quitChan() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.quit == nil {
		s.quit = make(chan struct{})
	}
	return s.quit
}

func (s *Server) track(l net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown.Load() {
		return false
	}
	s.loops.Add(1)
	if s.listeners == nil {
		s.listeners = make(map[net.Listener]struct{})
	}
	s.listeners[l] = struct{}{}
	return true
}

func (s *Server) untrack(l net.Listener) {
	s.mu.Lock()
	delete(s.listeners, l)
	s.mu.Unlock()
}

func (s *Server) trackConn(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
	}
	s.conns[c] = struct{}{}
	s.handlers.Add(1)
}

func (s *Server) untrackConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if s.idle != nil && len(s.conns) == 0 {
		select {
		case <-s.idle:
		default:
			close(s.idle)
		}
	}
	s.mu.Unlock()
	s.handlers.Done()
}

func (s *Server) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.c.Abort()
	}
}

// callHandler runs the handler, turning a panic into a 500 (or a cut
// response if the header was sent) as net/http does, so one bad request
// never takes the server down.
func (s *Server) callHandler(w *response, req *http.Request) (panicked bool) {
	defer func() {
		if v := recover(); v != nil {
			panicked = true
			if v == http.ErrAbortHandler {
				w.abort()
				return
			}
			s.logger().Error("appserver: handler panicked", "method", req.Method, "uri", req.RequestURI, "request_id", requestID(req),
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if !w.committed {
				w.header = make(http.Header)
				w.pending = w.pending[:0]
				w.status = 0
				w.wroteHeader = false
				http.Error(w, "500 Internal Server Error", http.StatusInternalServerError)
				return
			}
			w.abort()
		}
	}()
	s.Handler.ServeHTTP(w, req)
	return false
}
