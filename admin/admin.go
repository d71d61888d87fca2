// Package admin is the stack's admin surface, as Caddy's admin API, NGINX
// Unit's control socket and uWSGI's stats server are theirs: Prometheus
// metrics, health and readiness probes, a live status page, the effective
// configuration, and, on a Unix control socket only, reload and worker
// scaling.
//
// It owns the Prometheus registry; the tiers never import it. They take a
// prometheus.Registerer (edge.Instrument, prefork.Master.Instrument) and
// expose small read-only views that the command line hands over here as
// Sources. Two listeners serve it:
//
//   - admin.listen (TCP, default 127.0.0.1:8001): GET /metrics, /healthz,
//     /readyz, /status, /status.json, /config, to a Host that is the
//     admin's own (hostguard.go);
//   - admin.socket (Unix, mode 0600: the file mode is the authentication):
//     the same, plus POST /reload, /workers/add and /workers/remove.
package admin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stack-web/stack/appserver"
)

// Sources are what the admin shows and does, supplied by the command line
// from the tiers it runs. A nil function means "not in this mode".
type Sources struct {
	// Tiers names the running tiers and their addresses.
	Tiers func() []Tier
	// Workers are the appserver's worker processes.
	Workers func() []Worker
	// Upstreams are the edge's upstreams and their servers' health.
	Upstreams func() []Upstream
	// Ready returns nil once every tier accepts and the appserver has its
	// workers, else what is missing.
	Ready func() error
	// Config returns the effective configuration as YAML, secrets
	// redacted.
	Config func() ([]byte, error)
	// Reload does what SIGHUP does and returns its refusal or failure.
	Reload func() error
	// AddWorker and RemoveWorker scale the appserver's workers by one and
	// return the slot.
	AddWorker, RemoveWorker func() (int, error)
	// Remotes are the tier children's admin sockets (mode: subprocess),
	// whose metrics /metrics serves with the parent's.
	Remotes []*Remote
}

// Server is the admin surface. Create it with New, open its sockets with
// Listen, run it with Serve and stop it with Shutdown.
type Server struct {
	cfg      Config
	src      Sources
	logger   *slog.Logger
	reg      *prometheus.Registry
	gatherer prometheus.Gatherer // reg and the remotes'
	errors   *ErrorLog
	history  *history
	started  time.Time
	stopping atomic.Bool

	tcp, unix net.Listener
	// limits bound what one client can hold on the TCP listener
	// (adminLimits; tests make them small).
	limits  limits
	srvTCP  *http.Server
	srvUnix *http.Server
	quit    chan struct{}
	mu      sync.Mutex // guards closed against a Serve that starts late
	closed  bool
	wg      sync.WaitGroup
}

// New builds the admin surface. Its metrics already have the Go runtime
// and process collectors; the tiers register theirs with Registerer.
func New(cfg Config, src Sources, errs *ErrorLog, logger *slog.Logger) *Server {
	reg := prometheus.NewRegistry()
	// The runtime and process collectors sit in a registry of their own:
	// the status page's history gathers every second, and only needs the
	// tiers' metrics. With them, each gathering read /proc and the
	// runtime's metrics, and an idle stack's master allocated 100-190 kB a
	// second for nothing (which woke the memory trimmer, too).
	sys := prometheus.NewRegistry()
	sys.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if errs == nil {
		errs = NewErrorLog()
	}
	tiers := prometheus.Gatherers{reg}
	for _, r := range src.Remotes {
		tiers = append(tiers, r)
	}
	gs := append(prometheus.Gatherers{sys}, tiers...)
	return &Server{cfg: cfg, src: src, logger: logger, reg: reg, gatherer: gs, errors: errs, history: newHistory(tiers),
		started: time.Now(), quit: make(chan struct{}), limits: adminLimits()}
}

// limits are the TCP listener's bounds against clients that hold
// connections: net/http alone has none once a request's head is read (a
// POST /reload there is answered 403 at once, then up to 256 KiB of its
// body is read to reuse the connection, with no deadline), and a client
// trickling bodies could keep connections, goroutines and descriptors
// for ever.
type limits struct {
	readTimeout  time.Duration // the whole request, body included
	writeTimeout time.Duration // the answer (a /metrics to a client that does not read)
	maxConns     int           // connections open at once
}

// adminLimits are generous for scrapers, probes and browsers: a scrape
// or a status page needs a connection or two and a few milliseconds. The
// control socket (its owner's only) has none: POST /reload answers when
// a chain reload is done, which can take minutes.
func adminLimits() limits {
	return limits{readTimeout: 30 * time.Second, writeTimeout: time.Minute, maxConns: 64}
}

// Registerer is where the tiers register their metrics.
func (s *Server) Registerer() prometheus.Registerer { return s.reg }

// Gatherer is what /metrics serves: the registry and the remotes'.
func (s *Server) Gatherer() prometheus.Gatherer { return s.gatherer }

// Stopping marks the stack as stopping: /readyz answers 503 from now on,
// so that a load balancer stops sending before the edge drains.
func (s *Server) Stopping() { s.stopping.Store(true) }

// Listen opens admin.listen and admin.socket (those not ""), so that a
// port in use is reported before anything starts.
func (s *Server) Listen() error {
	if s.cfg.Listen != "" {
		l, err := net.Listen("tcp", s.cfg.Listen)
		if err != nil {
			return fmt.Errorf("admin.listen: %w", err)
		}
		tcp := newLimitListener(l, s.limits.maxConns)
		s.tcp = tcp
		s.srvTCP = s.newHTTPServer(false)
		s.srvTCP.ReadTimeout, s.srvTCP.WriteTimeout = s.limits.readTimeout, s.limits.writeTimeout
		tcp.serve(s.srvTCP)
	}
	if s.cfg.Socket != "" {
		if err := os.MkdirAll(filepath.Dir(s.cfg.Socket), 0o700); err != nil {
			s.Close()
			return fmt.Errorf("admin.socket: %w", err)
		}
		if err := removeStale(s.cfg.Socket); err != nil {
			s.Close()
			return err
		}
		// Made 0600 from the bind on (the umask is set around it): no
		// moment when another user could connect.
		l, err := appserver.Listen("unix:"+s.cfg.Socket, 0o600)
		if err != nil {
			s.Close()
			return fmt.Errorf("admin.socket: %w", err)
		}
		s.unix = l
		s.srvUnix = s.newHTTPServer(true)
	}
	return nil
}

func (s *Server) newHTTPServer(control bool) *http.Server {
	h := s.handler(control)
	if !control {
		h = newHostGuard(h, s.cfg)
	}
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout: 60 * time.Second, ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn)}
}

// Addr is the TCP listener's address (nil when off).
func (s *Server) Addr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

// Serve serves both listeners until Shutdown, and returns nil then.
func (s *Server) Serve() error {
	s.mu.Lock()
	if s.closed { // Shutdown came first: the group stopped before this actor ran
		s.mu.Unlock()
		return nil
	}
	if s.srvTCP != nil {
		s.wg.Go(func() { s.srvTCP.Serve(s.tcp) })
	}
	if s.srvUnix != nil {
		s.wg.Go(func() { s.srvUnix.Serve(s.unix) })
	}
	s.wg.Go(func() { s.history.run(s.quit) })
	s.mu.Unlock()
	<-s.quit
	return nil
}

// Shutdown stops serving; requests under way get until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.quit)
	}
	s.mu.Unlock()
	var errs []error
	for _, srv := range []*http.Server{s.srvTCP, s.srvUnix} {
		if srv != nil {
			if err := srv.Shutdown(ctx); err != nil {
				srv.Close()
				errs = append(errs, err)
			}
		}
	}
	s.wg.Wait()
	s.Close()
	return errors.Join(errs...)
}

// Close releases the listeners (the socket file is removed).
func (s *Server) Close() {
	if s.tcp != nil {
		s.tcp.Close()
	}
	if s.unix != nil {
		s.unix.Close()
	}
}

// handler routes the endpoints; control adds the socket-only ones.
func (s *Server) handler(control bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn)}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /status", s.statusPage)
	mux.HandleFunc("GET /status.json", s.statusJSON)
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(assetsFS)))
	mux.HandleFunc("GET /config", s.config)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/status", http.StatusFound)
	})
	if control {
		mux.HandleFunc("POST /reload", s.reload)
		mux.HandleFunc("POST /workers/add", s.scale(s.src.AddWorker, "added"))
		mux.HandleFunc("POST /workers/remove", s.scale(s.src.RemoveWorker, "removed"))
	} else {
		refuse := func(w http.ResponseWriter, r *http.Request) {
			writeText(w, http.StatusForbidden, "this endpoint is on the control socket (admin.socket) only\n")
		}
		mux.HandleFunc("POST /reload", refuse)
		mux.HandleFunc("POST /workers/", refuse)
	}
	return mux
}

func writeText(w http.ResponseWriter, code int, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write([]byte(s))
}

// readyz: 200 once every tier accepts and the workers are up; 503 before,
// and from the moment the stop begins.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.stopping.Load() {
		writeText(w, http.StatusServiceUnavailable, "stopping\n")
		return
	}
	if s.src.Ready != nil {
		if err := s.src.Ready(); err != nil {
			writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error()+"\n")
			return
		}
	}
	writeText(w, http.StatusOK, "ready\n")
}

func (s *Server) config(w http.ResponseWriter, r *http.Request) {
	if s.src.Config == nil {
		writeText(w, http.StatusNotFound, "no configuration in this mode\n")
		return
	}
	b, err := s.src.Config()
	if err != nil {
		writeText(w, http.StatusInternalServerError, err.Error()+"\n")
		return
	}
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

// reload answers 200 with "reloaded", or 409 with the reason it was
// refused (the running configuration stays).
func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	if s.src.Reload == nil {
		writeText(w, http.StatusNotImplemented, "reload is not available in this mode\n")
		return
	}
	if s.stopping.Load() {
		writeText(w, http.StatusServiceUnavailable, "stopping; not reloading\n")
		return
	}
	if err := s.src.Reload(); err != nil {
		writeText(w, http.StatusConflict, "reload refused: "+err.Error()+"\n")
		return
	}
	writeText(w, http.StatusOK, "reloaded\n")
}

func (s *Server) scale(fn func() (int, error), done string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if fn == nil {
			writeText(w, http.StatusNotImplemented, "no worker processes in this mode (appserver.processes is 0, or they run in a child process)\n")
			return
		}
		id, err := fn()
		if err != nil {
			writeText(w, http.StatusConflict, err.Error()+"\n")
			return
		}
		writeText(w, http.StatusOK, fmt.Sprintf("worker %d %s\n", id, done))
	}
}

// removeStale removes a socket file left by a crash; a live one (another
// stack running with this run_dir) or a file that is not a socket is an
// error.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("admin.socket: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("admin.socket: %s exists and is not a socket; refusing to replace it", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("admin.socket: %s: another stack is already listening on it (the same run_dir?); stop it or set admin.socket", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("admin.socket: removing the stale socket %s: %w", path, err)
	}
	return nil
}
