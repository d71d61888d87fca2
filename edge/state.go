package edge

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/stack-web/stack/edge/internal/accesslog"
	"github.com/stack-web/stack/edge/internal/proxytrust"
	"github.com/stack-web/stack/edge/internal/reqbody"
	"github.com/stack-web/stack/edge/internal/respbuf"
	"github.com/stack-web/stack/edge/static"
	"github.com/stack-web/stack/edge/upstream"
	"github.com/stack-web/stack/edge/upstream/transport"
)

// state is what one configuration makes of the edge: its servers with
// their locations and handlers, upstreams, static roots and access log. A
// reload builds a new one and swaps it in; every request takes the state
// current when it starts and holds it to the end, so requests in flight
// finish on the configuration they started with. A state is closed when
// the last request holding it ends, after it was replaced.
type state struct {
	cfg       Config
	router    router  // picks a request's site by its Host (vhost.go)
	sites     []*site // every site, the default of edge.locations first
	upstreams map[string]*upstream.Group
	statics   []*static.Handler
	access    *accesslog.Log
	trust     proxytrust.List // whose X-Request-Id is kept
	limits    limitZones      // rate_limit and limit_conn zones (limits.go)

	// refs counts the requests holding the state, plus one while it is
	// the current state. It is closed when refs reaches 0.
	refs atomic.Int64
}

// newState opens what cfg (validated) names. tempDir receives request
// bodies and buffered responses too large for memory.
func newState(cfg Config, tempDir string, logger *slog.Logger, census *transport.Census) (*state, error) {
	trust, err := proxytrust.New(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	access, err := accesslog.Open(cfg.AccessLog, cfg.AccessLogFormat)
	if err != nil {
		return nil, err
	}
	st := &state{cfg: cfg, upstreams: map[string]*upstream.Group{}, access: access, trust: trust}
	st.refs.Store(1)
	for _, name := range sortedKeys(cfg.Upstreams) {
		ucfg := cfg.Upstreams[name]
		ucfg.Census = census
		u, err := upstream.New(name, ucfg, logger)
		if err != nil {
			st.close()
			return nil, err
		}
		st.upstreams[name] = u
	}
	for _, sc := range cfg.sites() {
		scfg := cfg.forServer(sc) // the edge's settings with the server's own limits
		body := reqbody.NewReader(int64(scfg.ClientMaxBodySize), int64(scfg.ClientBodyBufferSize), scfg.ClientBodyTimeout, tempDir)
		s := &site{trust: st.trust}
		if len(sc.Names) > 0 {
			s.name = sc.Names[0]
		}
		for _, lc := range sc.Locations {
			h, err := st.buildLocation(scfg, lc, body, tempDir, logger)
			if err != nil {
				st.close()
				return nil, err
			}
			h = withWebSocket(h, lc.WebSocket)         // upgraded connections' limits (websocket.go)
			h = st.wrapLocation(h, lc, s.name, logger) // limits and internal (limits.go, accel.go)
			h = withCompression(h, scfg.Compression, lc)
			s.locations = append(s.locations, newLocation(lc, s.name, h))
		}
		sortLocations(s.locations)
		s.linkAccel() // X-Accel-Redirect (accel.go)
		st.router.add(sc, s)
		st.sites = append(st.sites, s)
	}
	return st, nil
}

// buildLocation makes the handler of location lc, in a server whose
// settings (the edge's, with the server's overrides) are cfg. This is the
// one place where a location's handler is built: each wrapper it gets
// (a rate limit, compression, ...) is one line here.
func (st *state) buildLocation(cfg Config, lc LocationConfig, body *reqbody.Reader, tempDir string, logger *slog.Logger) (http.Handler, error) {
	trust := st.trust
	var h http.Handler
	if lc.Root != "" {
		s, err := static.New(staticPrefix(lc.Path), lc.Root, logger)
		if err != nil {
			return nil, fmt.Errorf("edge: location %s: %w", lc.Path, err)
		}
		st.statics = append(st.statics, s)
		h = s
	} else {
		buf := respbuf.Policy{
			On:      cfg.Buffering,
			Mem:     int64(cfg.ResponseBufferSize),
			MaxFile: int64(cfg.MaxTempFileSize),
			TempDir: tempDir,
			Logger:  logger,
		}
		if lc.Buffering != nil {
			buf.On = *lc.Buffering
		}
		h = newProxy(st.upstreams[lc.Upstream], body, trust, buf, logger)
	}
	return h, nil
}

// staticPrefix is what a static location strips from the path before
// looking in its root: its prefix, or for an exact path ("= /robots.txt")
// the directory holding it, so that root is the directory of the file.
func staticPrefix(p string) string {
	path, exact := splitLocationPath(p)
	if exact {
		return path[:strings.LastIndexByte(path, '/')+1]
	}
	return path
}

// eachLocation calls fn with every location of every site.
func (st *state) eachLocation(fn func(*location)) {
	for _, s := range st.sites {
		for i := range s.locations {
			fn(&s.locations[i])
		}
	}
}

// acquire returns the current state, held until release.
func (e *Edge) acquire() *state {
	for {
		st := e.cur.Load()
		if st.refs.Add(1) > 1 {
			return st
		}
		// It was replaced and closed between the load and the add: undo,
		// and take its successor.
		st.refs.Add(-1)
		if e.cur.Load() == st {
			// No successor: the edge was closed under a late request,
			// which gets the closed state's errors. Its release takes refs
			// below zero and closes nothing twice.
			return st
		}
	}
}

func (st *state) release() {
	if st.refs.Add(-1) == 0 {
		st.close()
	}
}

// close releases the static roots, idle upstream connections and the
// access log.
func (st *state) close() {
	for _, s := range st.statics {
		s.Close()
	}
	for _, u := range st.upstreams {
		u.Close()
	}
	st.access.Close()
}
