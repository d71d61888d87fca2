package appserver

import (
	"bytes"
	"context"
	"net/http"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stack-web/stack/appserver/internal/sockconn"
)

// conn is a connection being served, as the harakiri watchdog sees it.
type conn struct {
	c        sockconn.Conn
	started  atomic.Int64 // when the handler started (unix nanoseconds); 0 outside it
	release  func()       // frees the connection's Threads slot; nil without a bound
	accepted time.Time    // when accepted, if QueueTimeout is set
	state    atomic.Int32 // connFresh (nothing read yet), connActive, connIdle (waiting for a next request) or connClosing
	// firstUntil bounds the first packet's reads, from the accept
	// (awaitFirst); zero once it is read.
	firstUntil time.Time
	gate       *gate  // the responses' way out while harakiri is armed
	id         uint64 // the connection's number, the label of its goroutine
	killed     atomic.Bool

	// mu orders the request in flight's fields against the watchdog: a
	// kept connection starts its next request while the watchdog may still
	// look at the last one.
	mu  sync.Mutex
	ctx *requestContext // the request's, which harakiri cancels
	req *http.Request
}

// begin records the request in flight for the watchdog.
func (c *conn) begin(req *http.Request, ctx *requestContext, start time.Time) {
	c.mu.Lock()
	c.req, c.ctx = req, ctx
	c.gate.reset()
	c.started.Store(start.UnixNano())
	c.mu.Unlock()
}

// end marks that no request is in flight.
func (c *conn) end() {
	c.mu.Lock()
	c.started.Store(0)
	c.req, c.ctx = nil, nil
	c.mu.Unlock()
}

// startWatchdog starts the goroutine that enforces Harakiri, as uWSGI's
// master does: it looks at the requests in flight periodically, rather
// than arming a timer for every request.
func (s *Server) startWatchdog() {
	s.mu.Lock()
	s.stopWatch = make(chan struct{})
	stop := s.stopWatch
	s.mu.Unlock()
	every := min(max(s.Harakiri/10, 10*time.Millisecond), time.Second)
	s.watching.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				s.harakiri(now)
			}
		}
	})
}

// harakiriAnswer is written when a request overruns before its response
// started (contract with the edge: a 504 from the worker itself).
const harakiriAnswer = "HTTP/1.1 504 Gateway Timeout\r\nContent-Type: text/plain; charset=utf-8\r\n" +
	"Content-Length: 20\r\nConnection: close\r\n\r\n504 Gateway Timeout\n"

// harakiri ends the requests that have run longer than s.Harakiri.
func (s *Server) harakiri(now time.Time) {
	limit := now.Add(-s.Harakiri).UnixNano()
	var overdue []*conn
	s.mu.Lock()
	for c := range s.conns {
		if st := c.started.Load(); st != 0 && st < limit && !c.killed.Load() {
			overdue = append(overdue, c)
		}
	}
	s.mu.Unlock()
	for _, c := range overdue {
		c.mu.Lock()
		st := c.started.Load()
		if st == 0 || st >= limit {
			c.mu.Unlock() // it ended (and maybe the next began) since
			continue
		}
		c.killed.Store(true)
		stack := goroutineStack(c.id) // while it is still stuck
		answered := c.gate.close([]byte(harakiriAnswer))
		c.c.Abort() // nothing the handler writes after this gets out
		c.ctx.cancel()
		req := c.req
		c.mu.Unlock()
		ran := time.Duration(now.UnixNano() - st)
		s.logger().Error("appserver: harakiri: request ran too long; cancelled it and closed its connection",
			"method", req.Method, "uri", req.RequestURI, "request_id", requestID(req), "ran", ran.Round(time.Millisecond), "limit", s.Harakiri,
			"answered_504", answered, "stack", stack)
		if c.release != nil {
			c.release() // the handler may run on, but no longer counts against Threads
		}
		if s.OnHarakiri != nil {
			s.OnHarakiri(req.Method, req.RequestURI)
		}
	}
}

// gate is the response's way to its connection while harakiri is armed:
// the watchdog closes it, and if nothing had been written yet it writes
// the 504 itself, so the client never gets half of two answers.
type gate struct {
	sockconn.Conn
	mu    sync.Mutex
	wrote bool
	shut  atomic.Bool
}

func (g *gate) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shut.Load() {
		return 0, errAborted
	}
	g.wrote = true
	return g.Conn.Write(p)
}

// reset opens the gate for the next request of a kept connection.
func (g *gate) reset() {
	g.mu.Lock()
	g.wrote = false
	g.mu.Unlock()
}

// close shuts the gate and reports whether it wrote answer. A write in
// progress (the lock is held) means the response has started.
func (g *gate) close(answer []byte) (answered bool) {
	g.shut.Store(true)
	if !g.mu.TryLock() {
		return false
	}
	defer g.mu.Unlock()
	if g.wrote {
		return false
	}
	g.wrote = true
	return g.Conn.WriteNow(answer) == nil
}

// connLabel is the profiler label that marks the goroutine serving a
// connection, so that the watchdog can find its stack. Setting a label
// costs a few hundred nanoseconds once per connection; reading a
// goroutine's own id from runtime.Stack cost microseconds.
const connLabel = "stack_appserver_conn"

// labelConn marks the calling goroutine as the one serving connection id.
func labelConn(id uint64) {
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels(connLabel, strconv.FormatUint(id, 10))))
}

// goroutineStack returns the stack of the goroutine serving connection id,
// found in a goroutine profile by its label (Go has no call for one other
// goroutine's stack). A handler that set labels of its own with pprof.Do
// hides it.
func goroutineStack(id uint64) string {
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		return "(stack not found: " + err.Error() + ")"
	}
	want := []byte(`"` + connLabel + `":"` + strconv.FormatUint(id, 10) + `"`)
	for rec := range bytes.SplitSeq(buf.Bytes(), []byte("\n\n")) {
		if bytes.Contains(rec, want) {
			return "goroutine serving the request:\n" + string(rec)
		}
	}
	return "(stack not found: the handler returned)"
}
