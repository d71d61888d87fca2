package edge

import (
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync/atomic"

	"github.com/stack-web/stack/edge/static"
	"github.com/stack-web/stack/edge/upstream"
)

// state is what one configuration makes of the edge: its locations with
// their handlers, upstreams, static roots and access log. A reload builds a
// new one and swaps it in; every request takes the state current when it
// starts and holds it to the end, so requests in flight finish on the
// configuration they started with. A state is closed when the last request
// holding it ends, after it was replaced.
type state struct {
	cfg       Config
	locations []location // longest path first
	upstreams map[string]*upstream.Group
	statics   []*static.Handler
	access    *accessLog
	trust     proxyTrust // whose X-Request-Id is kept

	// refs counts the requests holding the state, plus one while it is
	// the current state. It is closed when refs reaches 0.
	refs atomic.Int64
}

// location is a configured path prefix and what serves it.
type location struct {
	prefix  string
	handler http.Handler
	metrics *locationMetrics // set by metrics.attach when the edge is instrumented
}

// newState opens what cfg (validated) names. tempDir receives request
// bodies and buffered responses too large for memory.
func newState(cfg Config, tempDir string, logger *slog.Logger) (*state, error) {
	trust, err := newProxyTrust(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	access, err := openAccessLog(cfg.AccessLog, cfg.AccessLogFormat)
	if err != nil {
		return nil, err
	}
	st := &state{cfg: cfg, upstreams: map[string]*upstream.Group{}, access: access, trust: trust}
	st.refs.Store(1)
	body := newBodyReader(int64(cfg.ClientMaxBodySize), int64(cfg.ClientBodyBufferSize), cfg.ClientBodyTimeout, tempDir)
	for _, name := range sortedKeys(cfg.Upstreams) {
		u, err := upstream.New(name, cfg.Upstreams[name], logger)
		if err != nil {
			st.close()
			return nil, err
		}
		st.upstreams[name] = u
	}
	for _, lc := range cfg.Locations {
		var h http.Handler
		if lc.Root != "" {
			s, err := static.New(lc.Path, lc.Root, logger)
			if err != nil {
				st.close()
				return nil, fmt.Errorf("edge: location %s: %w", lc.Path, err)
			}
			st.statics = append(st.statics, s)
			h = s
		} else {
			buf := responseBuffering{
				on:      cfg.Buffering,
				mem:     int64(cfg.ResponseBufferSize),
				maxFile: int64(cfg.MaxTempFileSize),
				tempDir: tempDir,
				logger:  logger,
			}
			if lc.Buffering != nil {
				buf.on = *lc.Buffering
			}
			h = newProxy(st.upstreams[lc.Upstream], body, trust, buf, logger)
		}
		h = withCompression(h, cfg.Compression, lc)
		st.locations = append(st.locations, location{prefix: lc.Path, handler: h})
	}
	sort.SliceStable(st.locations, func(i, j int) bool { return len(st.locations[i].prefix) > len(st.locations[j].prefix) })
	return st, nil
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
	st.access.close()
}
