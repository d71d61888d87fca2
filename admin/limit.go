package admin

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// limitListener keeps at most cap(sem) connections open at a time: the
// admin shares the process's descriptors with the edge, and a client
// opening admin connections by the thousand must not leave the edge
// unable to accept.
//
// When all are open, the next client is accepted anyway (one descriptor
// over, at most) and the connection that has been open longest without a
// request being served is closed for it: one just opened, one still
// sending its head, or one idle between requests. Made to wait in the
// kernel's queue instead, a probe found the slots held by 64 clients that
// sent half a request head (each for ReadHeaderTimeout) or nothing after
// a first request (each for IdleTimeout): /readyz and /healthz went
// unanswered, and Kubernetes takes such a pod out of its service, or
// restarts it (break-it 15). A request being served keeps its
// connection; only when every slot serves one does the new client wait.
type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	mu        sync.Mutex
	open      map[*limitConn]struct{}
	seq       uint64 // the order of the accepts, oldest first
}

func newLimitListener(l net.Listener, n int) *limitListener {
	return &limitListener{Listener: l, sem: make(chan struct{}, n), done: make(chan struct{}), open: map[*limitConn]struct{}{}}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
		c, err := l.Listener.Accept()
		if err != nil {
			<-l.sem
			return nil, err
		}
		return l.track(c), nil
	case <-l.done:
		return nil, net.ErrClosed
	default:
	}
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	select {
	case l.sem <- struct{}{}: // one closed meanwhile
		return l.track(c), nil
	default:
	}
	if v := l.victim(); v != nil {
		v.Close() // gives its slot back
	}
	select {
	case l.sem <- struct{}{}:
		return l.track(c), nil
	case <-l.done:
		c.Close()
		return nil, net.ErrClosed
	}
}

func (l *limitListener) track(c net.Conn) *limitConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	lc := &limitConn{Conn: c, seq: l.seq}
	lc.release = func() {
		l.mu.Lock()
		delete(l.open, lc)
		l.mu.Unlock()
		<-l.sem
	}
	l.open[lc] = struct{}{}
	return lc
}

// victim is the oldest open connection not serving a request, or nil.
func (l *limitListener) victim() *limitConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	var v *limitConn
	for c := range l.open {
		if !c.serving.Load() && (v == nil || c.seq < v.seq) {
			v = c
		}
	}
	return v
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// connKey is the context key of a request's *limitConn.
type connKey struct{}

// serve makes srv mark a connection of l as serving from its handler's
// start until the answer is written (net/http's StateIdle, or the close),
// which no victim is chosen from.
func (l *limitListener) serve(srv *http.Server) {
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, connKey{}, c)
	}
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		if lc, ok := c.(*limitConn); ok && st == http.StateIdle {
			lc.serving.Store(false)
		}
	}
	next := srv.Handler
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if lc, ok := r.Context().Value(connKey{}).(*limitConn); ok {
			lc.serving.Store(true)
		}
		next.ServeHTTP(w, r)
	})
}

// limitConn gives its slot back once, at its first Close.
type limitConn struct {
	net.Conn
	seq     uint64
	serving atomic.Bool
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
