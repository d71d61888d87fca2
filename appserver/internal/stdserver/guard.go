package stdserver

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stack-web/stack/appserver/internal/hijack"
)

// Options are what the server adds to the app: appserver.Config's threads
// and harakiri, and a worker's hooks (appserver.Hooks).
type Options struct {
	Threads  int
	Harakiri time.Duration
	// SocketTimeout bounds each pause reading a request body or writing
	// a response, over http (pause.go); 0: none.
	SocketTimeout time.Duration
	Logger        *slog.Logger

	OnRequest  func(d time.Duration, written int64, panicked bool)
	OnHarakiri func(method, uri string)
	// OnHijack is called with the request (as the handler got it) whose
	// handler took its connection over: from there it is no request that
	// harakiri, or the master's backstop, may count as overdue.
	OnHijack func(r *http.Request)
}

// handlerGuard wraps the app for the FastCGI and HTTP servers: it bounds
// concurrency (Threads: the rest wait), answers a panic with 500, cancels
// a request past Harakiri (and tells the worker, which then exits), and
// reports each request to the worker's OnRequest.
type handlerGuard struct {
	Handler http.Handler
	Options

	once     sync.Once
	slots    chan struct{}
	inflight atomic.Int64
	served   atomic.Uint64
	fcgi     bool         // Hijack is not supported (errFCGIHijack)
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
	g.boundPauses(cw, r)
	cw.req = r // the handler's, for OnHijack
	panicked := g.call(cw, r)
	cw.extend() // net/http's last flush of what the handler wrote
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
	harakiri *time.Timer // stopped by a Hijack
	req      *http.Request
	// pauses sets the write deadline before each write, pause ahead
	// (SocketTimeout, pause.go); nil: no bound.
	pauses *http.ResponseController
	pause  time.Duration
}

func (w *countingWriter) WriteHeader(code int) {
	if code >= 200 {
		w.started.Store(true)
	}
	w.extend() // a 1xx is written at once
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.started.Store(true)
	w.extend()
	n, err := w.ResponseWriter.Write(p)
	w.written.Add(int64(n))
	return n, err
}

func (w *countingWriter) Flush() {
	w.started.Store(true)
	w.extend()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// errFCGIHijack is Hijack's answer over FastCGI.
var errFCGIHijack = fmt.Errorf("appserver: Hijack is not supported over FastCGI (a request is records on the web server's connection, not a connection of its own; use protocol uwsgi or http for WebSocket): %w", http.ErrNotSupported)

// Hijack over http is net/http's; the connection is tracked for Shutdown
// and is out of harakiri's reach from then on. Over FastCGI it fails.
func (w *countingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.guard != nil && w.guard.fcgi {
		return nil, nil, errFCGIHijack
	}
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil || w.guard == nil {
		return nc, brw, err
	}
	w.started.Store(true)
	if w.harakiri != nil {
		w.harakiri.Stop()
	}
	if w.guard.OnHijack != nil {
		w.guard.OnHijack(w.req)
	}
	return w.guard.hijacks.Track(nc, nil), brw, nil
}
