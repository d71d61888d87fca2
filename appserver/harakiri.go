package appserver

import (
	"bytes"
	"context"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// conn is a connection being served, as the harakiri watchdog sees it.
type conn struct {
	c        connection
	started  atomic.Int64 // when the handler started (unix nanoseconds); 0 outside it
	release  func()       // frees the connection's Threads slot; nil without a bound
	accepted time.Time    // when accepted, if QueueTimeout is set
	// Set before started, read by the watchdog after.
	gate   *gate
	cancel context.CancelFunc
	req    *http.Request
	goid   uint64 // the serving goroutine, to find its stack
	killed atomic.Bool
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
		c.killed.Store(true)
		stack := goroutineStack(c.goid) // while it is still stuck
		answered := c.gate.close([]byte(harakiriAnswer))
		c.c.Abort() // nothing the handler writes after this gets out
		c.cancel()
		ran := time.Duration(now.UnixNano() - c.started.Load())
		if c.started.Load() == 0 {
			ran = s.Harakiri
		}
		s.logger().Error("appserver: harakiri: request ran too long; cancelled it and closed its connection",
			"method", c.req.Method, "uri", c.req.RequestURI, "request_id", requestID(c.req), "ran", ran.Round(time.Millisecond), "limit", s.Harakiri,
			"answered_504", answered, "stack", stack)
		if c.release != nil {
			c.release() // the handler may run on, but no longer counts against Threads
		}
		if s.OnHarakiri != nil {
			s.OnHarakiri(c.req.Method, c.req.RequestURI)
		}
	}
}

// gate is the response's way to its connection while harakiri is armed:
// the watchdog closes it, and if nothing had been written yet it writes
// the 504 itself, so the client never gets half of two answers.
type gate struct {
	connection
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
	return g.connection.Write(p)
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
	return g.connection.WriteNow(answer) == nil
}

// goroutineID returns the calling goroutine's id, read from the first line
// of its stack ("goroutine 42 [running]:"). It costs about a microsecond
// and is only taken when harakiri is armed.
func goroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		id, _ := strconv.ParseUint(string(b[:i]), 10, 64)
		return id
	}
	return 0
}

// goroutineStack returns the stack of goroutine id, found in a dump of all
// goroutines (Go has no call for one other goroutine's stack).
func goroutineStack(id uint64) string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	prefix := []byte("goroutine " + strconv.FormatUint(id, 10) + " ")
	for g := range bytes.SplitSeq(buf, []byte("\n\n")) {
		if bytes.HasPrefix(g, prefix) {
			return string(g)
		}
	}
	return "(stack not found: the handler returned)"
}
