package appserver

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"
)

// conn is a connection being served, as the harakiri watchdog sees it.
type conn struct {
	c       connection
	started atomic.Int64 // when the handler started (unix nanoseconds); 0 outside it
	cancel  context.CancelFunc
	req     *http.Request // set before started, read by the watchdog after
	killed  atomic.Bool
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
		s.logger().Error("appserver: harakiri: request ran too long; cancelling it and closing its connection",
			"method", c.req.Method, "uri", c.req.RequestURI, "limit", s.Harakiri)
		c.c.Abort() // first, so that nothing the handler writes after the cancel gets out
		c.cancel()
	}
}
