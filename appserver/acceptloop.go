package appserver

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Without Threads, a connection is served on the goroutine that accepted
// it, as a uWSGI worker accepts and then serves: behind nginx every
// request is a new connection, and a goroutine for each cost a goroutine's
// start and exit, its stack grown again from the smallest size, and a
// scheduler round, about a tenth of a worker's CPU.
//
// A handler may block (a database, a sleep, a slow peer), and the
// connections behind it must still be accepted, so the accepting
// goroutines form a pool. free counts the loops that are not serving; the
// loop that takes the last free place kicks the spare, a parked goroutine
// that, when it runs, becomes a loop itself if none is free by then. With
// a worker's one P the spare runs only once the serving loop yields
// (it blocked, or was preempted after its time slice), and usually finds
// it free again and parks: a handler that does not block costs no
// goroutine. A loop that comes back from a request when enough others are
// free ends. A kept connection (the edge's keep-alive) is handed to a
// goroutine of its own after its first request, since it may idle for
// long between requests.

// acceptPool is one Serve call's accept loops.
type acceptPool struct {
	s        *Server
	l        net.Listener
	acceptor func() acceptor // a loop's own acceptor (each holds per-loop state)
	maxFree  int32           // a loop back from a request ends when this many are free

	free atomic.Int32
	kick chan struct{} // wakes the spare (buffered: a kick is never lost)

	stopOnce sync.Once
	done     chan struct{} // closed when the pool stops accepting for good
	err      error         // why; set before done is closed
}

func newAcceptPool(s *Server, l net.Listener, acc func() acceptor) *acceptPool {
	return &acceptPool{s: s, l: l, acceptor: acc, maxFree: int32(max(1, runtime.GOMAXPROCS(0))),
		kick: make(chan struct{}, 1), done: make(chan struct{})}
}

// start runs the first loop and the spare. The caller has counted the
// first loop in s.loops (Serve's track).
func (p *acceptPool) start() {
	p.free.Store(1)
	go p.spare()
	go p.loop(true)
}

func (p *acceptPool) stop(err error) {
	p.stopOnce.Do(func() {
		p.err = err
		close(p.done)
	})
}

func (p *acceptPool) stopped() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// enter counts a loop in s.loops before it accepts, so that Shutdown
// waits for what it is about to accept to be tracked; it reports false
// once the server or the pool stopped.
func (p *acceptPool) enter() bool {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown.Load() || p.stopped() {
		return false
	}
	s.loops.Add(1)
	return true
}

// loop accepts and serves connections until the pool stops, or until it
// comes back from a request with enough other loops free. entered: the
// loop is already counted in s.loops.
func (p *acceptPool) loop(entered bool) {
	s := p.s
	acc := p.acceptor()
	// The loop serves its connections itself: one label, made once, marks
	// it for the harakiri watchdog (labelConn). It is set again after each
	// request: a handler's own labels (pprof.Do restores those of the
	// context it was given, not the goroutine's) would otherwise hide the
	// loop from the watchdog and stay on the requests it serves next.
	var id uint64
	labels := context.Background()
	if s.Harakiri > 0 {
		id = s.connIDs.Add(1)
		labels = pprof.WithLabels(labels, pprof.Labels(connLabel, strconv.FormatUint(id, 10)))
	}
	pprof.SetGoroutineLabels(labels)
	// serving is the connection whose request runs on this loop. A handler
	// that calls runtime.Goexit ends the loop (the others and the spare go
	// on accepting); its connection was closed (handlerExited) and must no
	// longer count for Shutdown.
	var serving *conn
	defer func() {
		if serving != nil {
			s.untrackConn(serving)
		}
	}()
	for {
		if !entered && !p.enter() {
			p.stop(ErrServerClosed)
			p.free.Add(-1)
			return
		}
		entered = false
		cs, err := acceptConn(s, p.l, acc)
		if err != nil {
			p.stop(err)
			s.loops.Done()
			p.free.Add(-1)
			return
		}
		cs.id = id
		s.trackConn(cs)
		s.loops.Done()
		if p.free.Add(-1) == 0 {
			select {
			case p.kick <- struct{}{}:
			default: // a kick is pending: the spare looks at free when it runs
			}
		}
		serving = cs
		s.serveInline(cs)
		serving = nil
		pprof.SetGoroutineLabels(labels)
		if p.free.Add(1) > p.maxFree {
			p.free.Add(-1)
			return
		}
	}
}

// spare waits for a kick; if no loop is free when it runs, it becomes
// one, and a new spare takes its place.
func (p *acceptPool) spare() {
	pprof.SetGoroutineLabels(context.Background()) // not a connection's
	for {
		select {
		case <-p.kick:
		case <-p.done:
			return
		}
		if p.free.Load() > 0 {
			continue
		}
		p.free.Add(1)
		go p.spare()
		p.loop(false)
		return
	}
}

// serveInline serves cs on the accepting goroutine; a connection kept for
// another request goes on in a goroutine of its own.
func (s *Server) serveInline(cs *conn) {
	bufs := getBuffers(cs.c)
	if !s.awaitFirst(cs, bufs) || !s.serveRequest(cs, bufs) {
		putBuffers(bufs)
		s.untrackConn(cs)
		return
	}
	// The answer held for the next read (serveconn.go) goes out now: that
	// read is another goroutine's, which may wait its turn behind this
	// loop's next connections, and a worker killed or stopping meanwhile
	// would lose an answer whose handler has run.
	if h, ok := cs.c.(writeHolder); ok {
		if err := h.ReleaseWrites(); err != nil {
			cs.c.Close()
			putBuffers(bufs)
			s.untrackConn(cs)
			return
		}
	}
	go func() {
		defer s.untrackConn(cs)
		defer putBuffers(bufs)
		if s.Harakiri > 0 {
			// Its own label: the loop's goes on serving other connections.
			id := s.connIDs.Add(1)
			labelConn(id)
			cs.mu.Lock()
			cs.id = id
			cs.mu.Unlock()
		}
		s.serveKept(cs, bufs)
	}()
}

// acceptConn takes the next connection off acc, waiting and retrying after
// a temporary failure (out of descriptors), as net/http does, rather than
// spinning or giving up. Its error ends the loop: ErrServerClosed after
// Shutdown.
func acceptConn(s *Server, l net.Listener, acc acceptor) (*conn, error) {
	var backoff time.Duration
	for {
		c, err := acc.accept()
		if err == nil {
			cs := &conn{c: c}
			cs.state.Store(connFresh) // before Shutdown can see it (firstbyte.go)
			if s.QueueTimeout > 0 {
				cs.accepted = time.Now()
			}
			return cs, nil
		}
		if s.shutdown.Load() {
			return nil, ErrServerClosed
		}
		if !isTemporary(err) {
			return nil, fmt.Errorf("appserver: accept on %s: %w", l.Addr(), err)
		}
		backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
		s.logger().Warn("appserver: accept failed; retrying", "listener", l.Addr().String(), "err", err, "after", backoff)
		time.Sleep(backoff)
	}
}
