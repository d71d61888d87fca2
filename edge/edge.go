// Package edge is the reverse proxy in front of the app servers, in nginx's
// role: it accepts HTTP/1.1 from clients with explicit timeouts and limits,
// rejects malformed and oversized requests before they cost a worker
// anything, serves static files itself, and passes everything else to an
// upstream over uwsgi (or HTTP).
//
// A request goes: Edge.ServeHTTP (framing verdict, path normalisation,
// location match) → Static, or Proxy (body buffering, forwarding headers)
// → httputil.ReverseProxy → Upstream (balancing) → UwsgiTransport.
package edge

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Edge is the HTTP front of the stack. Create it with New, open its
// sockets with Listen, run it with Serve and stop it with Shutdown.
type Edge struct {
	cfg       Config
	logger    *slog.Logger
	locations []location // longest path first
	upstreams map[string]*Upstream
	statics   []*Static
	access    *accessLog
	guard     *headGuard
	linger    *lingerer
	srv       *http.Server

	mu        sync.Mutex
	listeners []net.Listener
}

// location is a configured path prefix and what serves it.
type location struct {
	prefix  string
	handler http.Handler
}

// New builds the edge from a validated configuration. tempDir receives the
// request bodies too large for memory ("" is the system's).
func New(cfg Config, tempDir string, logger *slog.Logger) (*Edge, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	trust, err := newProxyTrust(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	access, err := openAccessLog(cfg.AccessLog)
	if err != nil {
		return nil, err
	}
	e := &Edge{cfg: cfg, logger: logger, upstreams: map[string]*Upstream{}, access: access,
		linger: newLingerer(), guard: newHeadGuard(logger)}
	e.guard.set(cfg.MaxHeaderSize, access)
	body := newBodyReader(int64(cfg.ClientMaxBodySize), int64(cfg.ClientBodyBufferSize), cfg.ClientBodyTimeout, tempDir)
	for _, name := range sortedKeys(cfg.Upstreams) {
		u, err := NewUpstream(name, cfg.Upstreams[name])
		if err != nil {
			e.Close()
			return nil, err
		}
		e.upstreams[name] = u
	}
	for _, lc := range cfg.Locations {
		var h http.Handler
		if lc.Root != "" {
			s, err := NewStatic(lc.Path, lc.Root, logger)
			if err != nil {
				e.Close()
				return nil, fmt.Errorf("edge: location %s: %w", lc.Path, err)
			}
			e.statics = append(e.statics, s)
			h = s
		} else {
			h = newProxy(e.upstreams[lc.Upstream], body, trust, logger)
		}
		e.locations = append(e.locations, location{prefix: lc.Path, handler: h})
	}
	sort.SliceStable(e.locations, func(i, j int) bool { return len(e.locations[i].prefix) > len(e.locations[j].prefix) })

	e.srv = &http.Server{
		Handler:           e,
		ReadHeaderTimeout: cfg.ClientHeaderTimeout,
		IdleTimeout:       cfg.KeepaliveTimeout,
		MaxHeaderBytes:    serverMaxHeaderBytes(cfg.MaxHeaderSize),
		ConnContext:       framingConnContext,
		ErrorLog:          log.New(slogWriter{logger}, "", 0),
	}
	// net/http would answer "OPTIONS *" itself, without the handler taking
	// that request's framing verdict; serve answers it.
	e.srv.DisableGeneralOptionsHandler = true
	return e, nil
}

// Listen opens every configured address. It is separate from Serve so that
// a port in use is reported before anything starts.
func (e *Edge) Listen() error {
	var lc net.ListenConfig
	for _, addr := range e.cfg.Listen {
		l, err := lc.Listen(context.Background(), "tcp", addr)
		if err != nil {
			e.closeListeners()
			return fmt.Errorf("edge: listen on %s: %w", addr, err)
		}
		e.mu.Lock()
		e.listeners = append(e.listeners, l)
		e.mu.Unlock()
	}
	return nil
}

// Addrs returns the addresses the edge listens on (useful with port 0).
func (e *Edge) Addrs() []net.Addr {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []net.Addr
	for _, l := range e.listeners {
		out = append(out, l.Addr())
	}
	return out
}

// Serve serves on the listeners opened by Listen until Shutdown. It returns
// nil after a Shutdown.
func (e *Edge) Serve() error {
	e.mu.Lock()
	ls := append([]net.Listener(nil), e.listeners...)
	e.mu.Unlock()
	if len(ls) == 0 {
		return errors.New("edge: Serve called before Listen")
	}
	errc := make(chan error, len(ls))
	for _, l := range ls {
		go func() { errc <- e.srv.Serve(framingListener{Listener: l, guard: e.guard}) }()
	}
	var first error
	for range ls {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) && first == nil {
			first = fmt.Errorf("edge: serve: %w", err)
			e.srv.Close() // one listener failed: stop the others, so Serve returns
		}
	}
	return first
}

// Shutdown stops accepting, lets requests in flight finish until ctx ends,
// then closes everything.
func (e *Edge) Shutdown(ctx context.Context) error {
	err := e.srv.Shutdown(ctx)
	if err != nil {
		e.srv.Close()
	}
	e.Close()
	return err
}

// Close releases what New opened (static roots, idle upstream connections,
// the access log).
func (e *Edge) Close() error {
	e.closeListeners()
	e.linger.closeAll()
	for _, s := range e.statics {
		s.Close()
	}
	for _, u := range e.upstreams {
		u.close()
	}
	return e.access.close()
}

func (e *Edge) closeListeners() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, l := range e.listeners {
		l.Close()
	}
}

// ServeHTTP checks the request's framing and path, then hands it to the
// location with the longest matching prefix.
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cw := &clientWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: e.cfg.SendTimeout, renewedAt: -1}
	body := trackBody(r)
	start, logged := time.Now(), false
	if e.access != nil {
		// Logged also when the handler aborts (panics) mid-response.
		defer func() {
			if !logged {
				e.access.log(cw, r, start)
			}
		}()
	}
	e.serve(cw, r)
	if e.access != nil {
		e.access.log(cw, r, start)
	}
	logged = true
	if lingerNeeded(cw, r, body) {
		e.linger.close(cw, e.cfg.LingeringTime, e.cfg.LingeringTimeout)
	}
}

func (e *Edge) serve(w http.ResponseWriter, r *http.Request) {
	if v := requestFraming(r.Context()); v != framingOK {
		e.logger.Warn("edge: refusing request", "remote", r.RemoteAddr, "uri", truncate(loggedTarget(r)), "problem", v.String(), "status", v.status())
		w.Header().Set("Connection", "close")
		httpError(w, v.status())
		return
	}
	if r.RequestURI == "*" && r.Method == http.MethodOptions {
		w.Header().Set("Content-Length", "0") // as net/http's general OPTIONS handler
		w.WriteHeader(http.StatusOK)
		return
	}
	if r.URL.Scheme != "" || r.URL.Host != "" {
		r = originForm(r)
	}
	if r.Method == http.MethodConnect || (r.URL.Path == "" || r.URL.Path[0] != '/') {
		httpError(w, http.StatusBadRequest)
		return
	}
	path, ok := normalizePath(r.URL.Path)
	if !ok {
		e.logger.Info("edge: rejecting path", "remote", r.RemoteAddr, "uri", r.RequestURI)
		httpError(w, http.StatusBadRequest)
		return
	}
	if path != r.URL.Path {
		u := *r.URL
		u.Path, u.RawPath = path, ""
		r.URL = &u
	}
	for i := range e.locations {
		if strings.HasPrefix(path, e.locations[i].prefix) {
			e.locations[i].handler.ServeHTTP(w, r)
			return
		}
	}
	httpError(w, http.StatusNotFound)
}

// normalizePath resolves "." and ".." segments and merges repeated slashes,
// as nginx does before matching locations (so PATH_INFO is what matched).
// A path that climbs above the root, or holds a NUL, is refused.
func normalizePath(p string) (string, bool) {
	if strings.IndexByte(p, 0) >= 0 {
		return "", false
	}
	if !strings.Contains(p, "//") && !strings.Contains(p, "/.") {
		return p, true // the common case: nothing to do, no allocation
	}
	segs := strings.Split(p[1:], "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case "", ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) == 0 {
				return "", false
			}
			out = out[:len(out)-1]
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/"), true
}
