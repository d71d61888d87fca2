// Package edge is the reverse proxy in front of the app servers, in nginx's
// role: it accepts HTTP/1.1 from clients with explicit timeouts and limits,
// rejects malformed and oversized requests before they cost a worker
// anything, serves static files itself, and passes everything else to an
// upstream over uwsgi (or HTTP).
//
// A request goes: Edge.ServeHTTP (the current state, framing verdict, path
// normalisation, server by Host, location match) → static.Handler, or
// Proxy (body buffering, forwarding headers) → forwarder (internal/forward) →
// upstream.Group (balancing, retries) → transport.UwsgiTransport
// (edge/upstream/transport), and the response back through a buffer that
// frees the app from slow clients.
// Reload swaps the state (state.go, reload.go); the sockets stay, and feed
// each server generation (edge/internal/intake).
//
// This package is the HTTP front; what lies behind a location is in its
// subpackages, which know nothing of the front: edge/upstream (reaching
// app servers) and edge/static (files). The front's own mechanisms, each
// of which needs nothing of the front's configuration or state, are in
// edge/internal: the servers and their sockets (h1, framing, headguard,
// chanlisten, intake), TLS (tlsfront), the request's path and body
// (urlpath, reqbody, linger), a file's send_timeout (sendwatch), the
// proxying (forward, respbuf, tunnel, accel), the policies around a
// location (limitzone, proxytrust) and the records of a request (reqid,
// accesslog, locmetrics). What stays here is the configuration, the state
// it builds, and the wiring between them.
package edge

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stack-web/stack/edge/internal/accesslog"
	"github.com/stack-web/stack/edge/internal/errpage"
	"github.com/stack-web/stack/edge/internal/framing"
	"github.com/stack-web/stack/edge/internal/headguard"
	"github.com/stack-web/stack/edge/internal/intake"
	"github.com/stack-web/stack/edge/internal/linger"
	"github.com/stack-web/stack/edge/internal/tlsfront"
	"github.com/stack-web/stack/edge/internal/tunnel"
	"github.com/stack-web/stack/edge/internal/urlpath"
	"github.com/stack-web/stack/edge/upstream/transport"
)

// Edge is the HTTP front of the stack. Create it with New, open its
// sockets with Listen, run it with Serve, change its configuration with
// Reload and stop it with Shutdown.
type Edge struct {
	logger   *slog.Logger
	tempDir  string
	cur      atomic.Pointer[state]
	conns    chan net.Conn    // accepted plain connections, for the current server generation
	tlsConns chan net.Conn    // TLS ones, handshake done
	done     chan struct{}    // closed by Shutdown
	guard    *headguard.Guard // head limits, for the framing tracker
	linger   *linger.Closer
	metrics  *metrics          // nil unless Instrument was called (metrics.go)
	open     openConns         // client connections open now
	upgraded tunnel.Registry   // switched (WebSocket) client connections (websocket.go)
	tls      *tlsfront.Side    // certificates and handshakes (tls.go)
	census   *transport.Census // answers of the app servers on this host (UpstreamCensus)

	mu        sync.Mutex
	servers   intake.Servers       // what every server generation shares
	listeners []*intake.Listener   // in the order configured
	gen       *intake.Generation   // serves new connections
	gens      []*intake.Generation // every generation with connections, for Shutdown
	serving   bool
	stopped   bool
	closed    bool
	wg        sync.WaitGroup // accept loops and generations' Serve
}

// New builds the edge from a validated configuration. tempDir receives the
// request bodies and responses too large for memory ("" is the system's).
func New(cfg Config, tempDir string, logger *slog.Logger) (*Edge, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tlsSide, err := startTLS(cfg, logger)
	if err != nil {
		return nil, err
	}
	census := new(transport.Census)
	st, err := newState(cfg, tempDir, logger, census)
	if err != nil {
		return nil, err
	}
	e := &Edge{logger: logger, tempDir: tempDir, conns: make(chan net.Conn), tlsConns: make(chan net.Conn), done: make(chan struct{}),
		linger: linger.NewCloser(), guard: headguard.New(logger), tls: tlsSide, census: census}
	e.guard.Set(int64(cfg.MaxHeaderSize), st.access)
	e.upgraded.Log, e.upgraded.Open = logger, &e.open
	e.cur.Store(st)
	e.servers = intake.Servers{Handler: e, Conns: e.conns, TLSConns: e.tlsConns, Guard: e.guard,
		ConnState: e.connState, ErrorLog: log.New(slogWriter{logger}, "", 0)}
	e.gen = e.servers.New(settingsOf(cfg))
	e.gens = []*intake.Generation{e.gen}
	return e, nil
}

// UpstreamCensus counts the answers of the uwsgi servers on this host by
// whether they kept their connection (transport.Census): what the
// process's scheduler is sized by when the edge runs alone.
func (e *Edge) UpstreamCensus() *transport.Census { return e.census }

// Listen opens every configured address. It is separate from Serve so that
// a port in use is reported before anything starts.
func (e *Edge) Listen() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	cfg := e.cur.Load().cfg
	opened, err := intake.OpenAll(e.listeners, cfg.Listen, cfg.TLSListen)
	if err != nil {
		return err
	}
	e.listeners = append(e.listeners, opened...)
	return nil
}

// Adopt makes l the listener of the configured address addr (a tls_listen
// one if tls), for Listen and Reload to use instead of opening it: a tier
// child of `stack up`'s mode: subprocess serves on the sockets its parent
// holds across the child's restarts. Call it before Listen; the edge owns
// l from then on.
func (e *Edge) Adopt(addr string, tls bool, l net.Listener) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.listeners = append(e.listeners, &intake.Listener{Addr: addr, L: l, TLS: tls})
}

// Addrs returns the addresses the edge listens on for plain HTTP (useful
// with port 0); TLSAddrs has the others.
func (e *Edge) Addrs() []net.Addr { return e.addrs(false) }

// Serve serves on the listeners opened by Listen (and by later reloads)
// until Shutdown, and returns nil then.
func (e *Edge) Serve() error {
	e.mu.Lock()
	if len(e.listeners) == 0 {
		e.mu.Unlock()
		return errors.New("edge: Serve called before Listen")
	}
	if e.serving || e.stopped {
		e.mu.Unlock()
		return errors.New("edge: Serve called twice or after Shutdown")
	}
	e.serving = true
	for _, a := range e.listeners {
		e.startAccept(a)
	}
	e.gen.Start(&e.wg)
	e.mu.Unlock()
	<-e.done
	return nil
}

// Shutdown stops accepting, lets requests in flight finish until ctx ends,
// then closes everything. Idle keep-alive connections are closed.
func (e *Edge) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	if !e.stopped {
		e.stopped = true
		close(e.done)
	}
	gens := e.gens
	e.mu.Unlock()
	e.closeListeners()
	var wg sync.WaitGroup
	errs := make([]error, len(gens))
	for i, g := range gens {
		wg.Go(func() { errs[i] = g.Shutdown(ctx) })
	}
	wg.Wait()
	e.upgraded.Shutdown(ctx) // net/http's Shutdown does not wait for them
	e.wg.Wait()
	e.Close()
	return errors.Join(errs...)
}

// Close releases what New and Listen opened (listeners, static roots, idle
// upstream connections, the access log). Connections being served are
// Shutdown's business.
func (e *Edge) Close() error {
	e.closeListeners()
	e.linger.CloseAll()
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.closed {
		e.closed = true
		e.cur.Load().release()
	}
	return nil
}

func (e *Edge) closeListeners() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tls.Stop() // handshakes under way end too
	intake.CloseAll(e.listeners)
	for _, g := range e.gens {
		g.StopTaking()
	}
}

// ServeHTTP checks the request's framing and path, then hands it to the
// server its Host names (vhost.go) and that server's location (match.go).
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := e.acquire()
	defer st.release()
	cw := &clientWriter{ResponseWriter: w, timeout: st.cfg.SendTimeout, renewedAt: -1}
	cw.setRequestID(r, st.trust)
	cw.upgraded = &e.upgraded
	cw.traced = st.access != nil && st.access.JSON() // it names the upstream server and its time
	body := linger.Track(r)
	if body != nil && r.ProtoMajor == 1 && (r.ContentLength < 0 || r.ContentLength > linger.MaxDrainedByServer) {
		cw.lingering = body // as lingerNeeded decides
	}
	var start time.Time // for the access log and metrics alone
	if st.access != nil || e.metrics != nil {
		start = time.Now()
	}
	logged := false
	if st.access != nil {
		// Logged also when the handler aborts (panics) mid-response.
		defer func() {
			if !logged {
				st.access.Request(r, start, cw.status, cw.bytes, cw.requestID, &cw.upstream)
			}
		}()
	}
	loc := e.serve(st, cw, r)
	if m := e.metrics; m != nil {
		lm := m.unmatched
		if loc != nil {
			lm = loc.metrics
		}
		lm.Observe(r, cw.status, cw.bytes, start)
	}
	if body != nil {
		// net/http decides what to do with an unread body by its own type:
		// a client waiting for "100 Continue" is answered and the
		// connection closed; a body of its own is drained or the
		// connection closed. Wrapped, it would read the body before
		// sending the answer, and a client that waits for 100 before
		// sending its body would wait for ever.
		r.Body = body.ReadCloser
	}
	if st.access != nil {
		st.access.Request(r, start, cw.status, cw.bytes, cw.requestID, &cw.upstream)
	}
	logged = true
	if lingerNeeded(cw, r, body) {
		e.linger.Close(cw, st.cfg.LingeringTime, st.cfg.LingeringTimeout)
	}
}

// serve answers r and returns the location that did, nil if none did.
func (e *Edge) serve(st *state, w http.ResponseWriter, r *http.Request) *location {
	if v := framing.RequestFraming(r.Context()); v != framing.OK {
		e.logger.Warn("edge: refusing request", "remote", r.RemoteAddr, "uri", truncate(accesslog.Target(r)), "problem", v.String(), "status", v.Status())
		w.Header().Set("Connection", "close")
		errpage.Write(w, v.Status())
		return nil
	}
	if !nginxMethod(r.Method) {
		// nginx's "client sent invalid method": a method is upper-case
		// letters, '_' and '-'. Methods are case-sensitive (RFC 9110 9.1),
		// so "get" is not GET, yet an app or a framework that folds case
		// would serve it past a rule written for GET or POST.
		e.logger.Info("edge: rejecting method", "remote", r.RemoteAddr, "method", truncate(r.Method))
		w.Header().Set("Connection", "close")
		errpage.Write(w, http.StatusBadRequest)
		return nil
	}
	if e.tlsFront(st, w, r) {
		return nil
	}
	if r.RequestURI == "*" && r.Method == http.MethodOptions {
		w.Header().Set("Content-Length", "0") // as net/http's general OPTIONS handler
		w.WriteHeader(http.StatusOK)
		return nil
	}
	if r.URL.Scheme != "" || r.URL.Host != "" {
		if r.URL.Hostname() == "" {
			// "http:///x": an http URI without a host is invalid (RFC 9110
			// 4.2.1), and its empty authority, not the Host header, would
			// choose the server.
			errpage.Write(w, http.StatusBadRequest)
			return nil
		}
		r = urlpath.OriginForm(r)
	}
	if r.Method == http.MethodConnect || (r.URL.Path == "" || r.URL.Path[0] != '/') {
		errpage.Write(w, http.StatusBadRequest)
		return nil
	}
	if strings.Contains(r.Host, "..") {
		// nginx's "client sent invalid host header": a name of labels has
		// no empty one, and a Host with ".." that an app puts in a path (a
		// directory per host) climbs out of it. Go's parsers, the plain
		// front's and the TLS front's, let it through.
		e.logger.Info("edge: rejecting host", "remote", r.RemoteAddr, "host", truncate(r.Host))
		errpage.Write(w, http.StatusBadRequest)
		return nil
	}
	path, ok := urlpath.Normalize(r.URL.Path)
	if !ok {
		e.logger.Info("edge: rejecting path", "remote", r.RemoteAddr, "uri", r.RequestURI)
		errpage.Write(w, http.StatusBadRequest)
		return nil
	}
	if path != r.URL.Path {
		u := *r.URL
		u.Path, u.RawPath = path, ""
		r.URL = &u
	}
	site := st.router.route(r)
	if site == nil {
		e.logger.Info("edge: misdirected request: no server for this host", "remote", r.RemoteAddr, "host", truncate(r.Host), "sni", sniName(r), "status", http.StatusMisdirectedRequest)
		errpage.Write(w, http.StatusMisdirectedRequest)
		return nil
	}
	if loc := site.match(path, r); loc != nil {
		loc.handler.ServeHTTP(w, r)
		return loc
	}
	errpage.Write(w, http.StatusNotFound)
	return nil
}

// sniName is the server name a TLS client asked for, "" without TLS.
func sniName(r *http.Request) string {
	if r.TLS == nil {
		return ""
	}
	return r.TLS.ServerName
}

// truncate bounds what a log line quotes of a client's input.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}

// nginxMethod says whether m is a method nginx accepts: upper-case
// letters, '_' and '-' (the parsers check only that it is a token).
func nginxMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost:
		return true
	}
	for i := 0; i < len(m); i++ {
		if c := m[i]; (c < 'A' || c > 'Z') && c != '_' && c != '-' {
			return false
		}
	}
	return m != ""
}
