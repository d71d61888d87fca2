// Package upstream is how the edge reaches app servers: the named groups
// of stack.yaml's edge.upstreams (Config), each a Group that balances
// requests over its servers, retries what may be retried, takes failing
// servers out of rotation and caps the requests in flight to each. What
// speaks to one server is its subpackage transport (uwsgi, FastCGI,
// http), whose errors the Group reads to decide.
//
// It knows nothing of the edge's front: the edge's forwarder hands it
// requests, with a body it has buffered (BufferedBody), and
// turns its errors into answers with Status.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stack-web/stack/edge/upstream/internal/inflight"
	"github.com/stack-web/stack/edge/upstream/transport"
)

// Group is a named group of interchangeable servers. It is itself an
// http.RoundTripper: it picks a server (see balancer) and, when an attempt
// fails before any byte of a response, tries again as nginx's default
// `uwsgi_next_upstream error timeout` does, more carefully:
//
//   - a connection that could not be made sent nothing, so the request goes
//     to the next server whatever its method;
//   - a request that was sent but got no response (refused, reset, closed
//     before the first byte) is re-sent only if its method is idempotent,
//     at most Retries times; a POST is never sent twice;
//   - a timeout (504) or a response that has started is never retried;
//   - when every server has been tried, the group is tried again after
//     RetryTimeout, once per retry left (with one server: the same one after
//     a short wait, which covers a worker being restarted).
//
// A server whose listen queue is full (EAGAIN on a Unix socket) is tried
// again for a moment; after that the request is answered 503 with
// Retry-After, never 502: the server is busy, not broken.
//
// A server that fails MaxFails times is skipped for FailTimeout unless
// every server is down; both changes are logged.
type Group struct {
	Name    string
	servers []*upstreamServer
	bal     balancer
	cfg     Config
	logger  *slog.Logger
	retried Counter // nil: not counted (metrics.go)
}

type upstreamServer struct {
	addr      string // as configured, for logs
	weight    int
	backup    bool
	rt        http.RoundTripper
	active    atomic.Int64 // requests in flight (least_conn)
	fails     atomic.Int32
	downUntil atomic.Int64  // unix nanoseconds; 0 when up
	current   int           // smooth round robin state, under balancer.mu
	slots     *inflight.Cap // max_in_flight; nil: none (inflight.go)
}

// New builds the transports of an upstream's servers. logger
// receives the passive health changes.
func New(name string, cfg Config, logger *slog.Logger) (*Group, error) {
	specs, err := parseServers(cfg.Servers)
	if err != nil {
		return nil, fmt.Errorf("edge: upstream %s: servers%w", name, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	u := &Group{Name: name, cfg: cfg, logger: logger}
	for _, sp := range specs {
		network, address := "tcp", sp.addr
		if p, ok := strings.CutPrefix(sp.addr, "unix:"); ok {
			network, address = "unix", p
		}
		var rt http.RoundTripper
		switch cfg.Protocol {
		case "uwsgi":
			rt = &transport.UwsgiTransport{Network: network, Address: address, ConnectTimeout: cfg.ConnectTimeout,
				ReadTimeout: cfg.ReadTimeout, SendTimeout: cfg.SendTimeout, BufferSize: cfg.BufferSize,
				KeepAlive: cfg.KeepAlive, KeepAliveTimeout: cfg.KeepAliveTimeout, Census: cfg.Census}
		case "fastcgi":
			ft, err := newFastCGITransport(network, address, cfg)
			if err != nil {
				return nil, fmt.Errorf("edge: upstream %s: %w", name, err)
			}
			ft.Logger = logger
			rt = ft
		case "http":
			rt = transport.NewHTTPTransport(transport.HTTPConfig{Network: network, Address: address, Server: sp.addr,
				ConnectTimeout: cfg.ConnectTimeout, ReadTimeout: cfg.ReadTimeout,
				KeepAlive: cfg.KeepAlive, KeepAliveTimeout: cfg.KeepAliveTimeout})
		default:
			return nil, fmt.Errorf("edge: upstream %s: protocol %q is not supported", name, cfg.Protocol)
		}
		u.servers = append(u.servers, &upstreamServer{addr: sp.addr, weight: sp.weight, backup: sp.backup, rt: rt, slots: inflight.New(cfg.MaxInFlight)})
	}
	if len(u.servers) == 0 {
		return nil, fmt.Errorf("edge: upstream %s has no servers", name)
	}
	u.bal = balancer{mode: cfg.Balance, servers: u.servers}
	return u, nil
}

// BufferedBody is a request body that the edge has read in full before
// proxying. A Group that finds one in req.Body gives each attempt a reader
// of its own, from the start (a transport closes or drains what it was
// given, so a second attempt cannot reuse it), and the uwsgi transport
// sends a small one held in memory in the same write as the request head.
type BufferedBody interface {
	io.ReadCloser
	// Clone returns a new reader of the same body from its start. The
	// storage is released when the last reader, the original included,
	// is closed.
	Clone() BufferedBody
	// InMemory returns the whole body when it is held in memory.
	InMemory() ([]byte, bool)
}

// busyError: every server tried had a full listen queue (503).
type busyError struct{ err error }

func (e *busyError) Error() string { return "upstream busy: " + e.err.Error() }
func (e *busyError) Unwrap() error { return e.err }

// Status is the answer owed to a client whose request failed with err, an
// error of Group.RoundTrip, as nginx answers: 504 when the upstream took
// too long to answer, 431 when the request cannot be encoded within the
// upstream's buffer, 503 when every server's queue was full (the caller
// adds Retry-After), 502 for everything else (refused, reset, a broken
// response; a connection that timed out reached no server, so 502 too).
func Status(err error) int {
	var te *transport.TimeoutError
	var de *transport.DialError
	var be *busyError
	var ne net.Error
	switch {
	case errors.Is(err, transport.ErrHeadTooLarge):
		return http.StatusRequestHeaderFieldsTooLarge
	case errors.As(err, &be):
		return http.StatusServiceUnavailable
	case errors.As(err, &te):
		return http.StatusGatewayTimeout
	case errors.As(err, &de):
		return http.StatusBadGateway
	case errors.As(err, &ne) && ne.Timeout():
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

// RoundTrip sends req to one of the servers, trying others as the type's
// comment says.
func (u *Group) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	trace, start := traceOf(ctx), time.Time{}
	if trace != nil {
		start = time.Now()
	}
	var tried uint64 // bit i: servers[i] was tried in this round (the first 64)
	retries := u.cfg.Retries
	resend := idempotent(req.Method)
	resending := false // the next attempt re-sends a request that was sent
	var errs []error
	busy := false
	for {
		i := u.pick(req, tried)
		if i < 0 {
			// Every server was tried: wait, and go round again once per
			// retry left (not for full queues: they were waited on).
			if retries == 0 || len(errs) == 0 || busy || !sleepCtx(ctx, u.cfg.RetryTimeout) {
				break
			}
			retries--
			resending = false
			tried = 0
			u.countRetry()
			continue
		}
		if resending {
			retries--
			resending = false
		}
		if tried != 0 {
			u.countRetry()
		}
		tried |= 1 << (i % 64)
		s := u.servers[i]
		resp, err := u.attempt(s, req)
		trace.record(s.addr, start)
		if err == nil {
			return resp, nil
		}
		err = fmt.Errorf("upstream %s server %s: %w", u.Name, s.addr, err)
		errs = append(errs, err)
		if ctx.Err() != nil {
			return nil, err
		}
		var de *transport.DialError
		var be *busyError
		switch {
		case errors.As(err, &be):
			busy = true // not a failure of the server: it is alive
		case errors.As(err, &de):
			u.fail(s)
		case resend && beforeResponse(err):
			u.fail(s)
			if retries == 0 {
				return nil, err
			}
			resending = true
			u.logger.Warn("edge: upstream failed before responding; retrying", "upstream", u.Name, "server", s.addr, "method", req.Method, "uri", req.RequestURI, "request_id", req.Header.Get("X-Request-Id"), "err", err)
		default:
			if transport.IsTimeout(err) || beforeResponse(err) {
				u.fail(s)
			}
			return nil, err
		}
	}
	err := errors.Join(errs...)
	if busy {
		return nil, &busyError{err}
	}
	return nil, err
}

// pick returns the index of the server for the next attempt, preferring
// servers that are up; when none is, any untried one (a server marked down
// may be back, and nothing better is left).
func (u *Group) pick(req *http.Request, tried uint64) int {
	untried := func(i int) bool { return tried&(1<<(i%64)) == 0 }
	now := time.Now().UnixNano()
	up := func(i int) bool {
		d := u.servers[i].downUntil.Load()
		return untried(i) && (d == 0 || now >= d)
	}
	i := -1
	if u.cfg.MaxInFlight > 0 && len(u.servers) > 1 {
		// A server at its max_in_flight is passed over for one with room
		// (nginx Plus's max_conns): a request waits in a server's queue
		// only when every server is at its cap.
		i = u.bal.pick(req.RemoteAddr, func(i int) bool { return up(i) && u.servers[i].slots.Free() })
	}
	if i < 0 {
		i = u.bal.pick(req.RemoteAddr, up)
	}
	if i < 0 {
		i = u.bal.pick(req.RemoteAddr, untried)
	}
	return i
}

// attempt sends the request to one server, with a fresh reader of the
// buffered body (a transport closes or drains what it was given, so a
// second attempt cannot reuse it). A full listen queue is waited out for
// up to min(connect_timeout, 1s).
func (u *Group) attempt(s *upstreamServer, req *http.Request) (*http.Response, error) {
	if err := u.acquireSlot(req.Context(), s); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(min(u.cfg.ConnectTimeout, time.Second))
	pause := time.Millisecond
	for {
		r := req
		var body BufferedBody
		if bb, ok := req.Body.(BufferedBody); ok {
			body = bb.Clone()
			r = new(http.Request)
			*r = *req
			r.Body = body
		}
		count := u.bal.mode == "least_conn" // requests in flight matter to it alone
		if count {
			s.active.Add(1)
		}
		resp, err := s.rt.RoundTrip(r)
		if sync := writesBodyFirst(s.rt); sync && body != nil {
			body.Close() // the transport has written it all by now
		}
		if err == nil {
			u.succeed(s)
			s.slots.HoldUntilBody(resp)
			if count {
				if resp.Body == nil || resp.Body == http.NoBody {
					s.active.Add(-1)
				} else {
					ab := &activeBody{ReadCloser: resp.Body, s: s}
					resp.Body = ab
					if w, ok := ab.ReadCloser.(io.Writer); ok && resp.StatusCode == http.StatusSwitchingProtocols {
						resp.Body = activeUpgraded{ab, w} // ReverseProxy writes to it
					}
				}
			}
			return resp, nil
		}
		if count {
			s.active.Add(-1)
		}
		if !errors.Is(err, syscall.EAGAIN) {
			s.slots.Release()
			return nil, err
		}
		if time.Now().Add(pause).After(deadline) || !sleepCtx(req.Context(), pause) {
			s.slots.Release()
			return nil, &busyError{err}
		}
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// writesBodyFirst reports whether rt sends the whole request body before
// RoundTrip returns (uwsgi, FastCGI), so the body can be released then.
func writesBodyFirst(rt http.RoundTripper) bool {
	switch rt.(type) {
	case *transport.UwsgiTransport, *transport.FastCGITransport:
		return true
	}
	return false
}

// activeBody counts the request as in flight on its server until the
// response body is closed.
type activeBody struct {
	io.ReadCloser
	s    *upstreamServer
	done atomic.Bool
}

func (b *activeBody) Close() error {
	if b.done.CompareAndSwap(false, true) {
		b.s.active.Add(-1)
	}
	return b.ReadCloser.Close()
}

// activeUpgraded is activeBody for an upgraded connection, which must stay
// writable.
type activeUpgraded struct {
	*activeBody
	io.Writer
}

// idempotent reports whether a request with this method may be sent twice
// (RFC 9110 §9.2.2, less TRACE, which the edge does not pass).
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// beforeResponse reports whether err means that the connection failed
// after the request was (perhaps) sent and before any response: reset,
// broken pipe, or closed. A timeout is not such an error: the server may
// still be working on it.
func beforeResponse(err error) bool {
	if transport.IsTimeout(err) {
		return false
	}
	return errors.Is(err, transport.ErrNoResponse) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// fail counts a failure of s and takes it out of rotation at MaxFails.
// A lone server is never taken out: there is nothing to send its requests
// to instead (nginx ignores max_fails then too).
func (u *Group) fail(s *upstreamServer) {
	if u.cfg.MaxFails <= 0 || len(u.servers) == 1 {
		return
	}
	if s.fails.Add(1) >= int32(u.cfg.MaxFails) {
		s.fails.Store(0)
		now := time.Now()
		if was := s.downUntil.Swap(now.Add(u.cfg.FailTimeout).UnixNano()); was == 0 || was <= now.UnixNano() {
			u.logger.Warn("edge: upstream server marked down", "upstream", u.Name, "server", s.addr,
				"max_fails", u.cfg.MaxFails, "for", u.cfg.FailTimeout)
		}
	}
}

// succeed clears s's failures; a server that was down is logged back up.
func (u *Group) succeed(s *upstreamServer) {
	if s.fails.Load() != 0 {
		s.fails.Store(0)
	}
	if s.downUntil.Load() != 0 && s.downUntil.Swap(0) != 0 {
		u.logger.Info("edge: upstream server is up again", "upstream", u.Name, "server", s.addr)
	}
}

// Close releases idle connections of the http transports.
func (u *Group) Close() {
	for _, s := range u.servers {
		if t, ok := s.rt.(interface{ CloseIdleConnections() }); ok {
			t.CloseIdleConnections()
		}
	}
}
