package edge

import (
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stack-web/stack/edge/internal/errpage"
	"github.com/stack-web/stack/edge/internal/proxytrust"
	"github.com/stack-web/stack/edge/limit"
)

// Rate and concurrency limits per client (nginx's limit_req and
// limit_conn), as a wrapper around a location's handler.
//
// Scope, as nginx's zones: edge.rate_limit (and edge.limit_conn) is one
// zone shared by every location that does not set its own, so a client's
// requests count together across them; a location's own setting is a zone
// of its own; "off" exempts the location.
//
// Reload keeps a zone (its buckets and counts) when its scope and settings
// are unchanged, as nginx keeps a shared zone of the same name and size;
// a zone whose settings changed starts empty.
//
// A request that reached its location through X-Accel-Redirect is not
// counted again by a limit its first location applied (nginx checks
// limit_req, and limit_conn, once per request); an internal location's
// own limit of a kind its first location did not apply counts it (nginx's
// limit_conn on an internal download location; accel.go).

// validateLimits checks the limits' keys; Validate calls it.
func (c *Config) validateLimits(bad func(key, format string, args ...any)) {
	check := func(key string, r *limit.RateConfig, cc *limit.ConnConfig) {
		r.Validate(key+"rate_limit", bad)
		cc.Validate(key+"limit_conn", bad)
		for name, k := range map[string]string{"rate_limit": rateKey(r), "limit_conn": connKey(cc)} {
			if _, isHeader, _ := limit.ParseKey(k); isHeader && len(c.TrustedProxies) == 0 {
				bad(key+name+".key", "%q is believed only from edge.trusted_proxies, and none is set; use remote_addr, or list the proxy that sets the header", k)
			}
		}
	}
	check("", c.RateLimit, c.LimitConn)
	// Every location: edge.locations' and each virtual host's.
	c.EachLocation(func(key string, l LocationConfig) {
		check(key+".", l.RateLimit, l.LimitConn)
	})
}

func rateKey(r *limit.RateConfig) string {
	if !r.Enabled() {
		return ""
	}
	return r.Key
}

func connKey(c *limit.ConnConfig) string {
	if !c.Enabled() {
		return ""
	}
	return c.Key
}

// limitZones are one state's zones, by scope ("" for the edge-wide ones,
// else the location's server and path).
type limitZones struct {
	reqs  map[string]*reqZone
	conns map[string]*connZone
}

// reqZone is a rate_limit zone and what it was made from; z is replaced by
// the previous state's zone on reload (inherit) before the state serves.
type reqZone struct {
	id     reqZoneID
	status int
	header string // the key's header, if the key is one
	z      *limit.Requests
}

type reqZoneID struct {
	rate     limit.Rate
	burst    int
	key      string
	nodelay  bool
	maxKeys  int
	trusting string // trusted_proxies, which decide the keys
}

type connZone struct {
	id     connZoneID
	status int
	header string
	z      *limit.Conns
}

type connZoneID struct {
	max      int
	key      string
	maxKeys  int
	trusting string
}

// zones returns the rate_limit and limit_conn zones of lc (nil for none),
// made on first use.
func (lz *limitZones) zones(cfg *Config, lc *LocationConfig, server string) (*reqZone, *connZone) {
	trusting := strings.Join(cfg.TrustedProxies, ",")
	own := zoneScope(lc, server)
	var rz *reqZone
	if rc, scope := pick(cfg.RateLimit, lc.RateLimit, own); rc.Enabled() {
		if lz.reqs == nil {
			lz.reqs = map[string]*reqZone{}
		}
		if rz = lz.reqs[scope]; rz == nil {
			header, _, _ := limit.ParseKey(rc.Key)
			rz = &reqZone{status: cmp(rc.Status, http.StatusTooManyRequests), header: header, z: limit.NewRequests(*rc),
				id: reqZoneID{rc.Rate, rc.Burst, rc.Key, rc.NoDelay == nil || *rc.NoDelay, rc.MaxClients, trusting}}
			lz.reqs[scope] = rz
		}
	}
	var cz *connZone
	if cc, scope := pick(cfg.LimitConn, lc.LimitConn, own); cc.Enabled() {
		if lz.conns == nil {
			lz.conns = map[string]*connZone{}
		}
		if cz = lz.conns[scope]; cz == nil {
			header, _, _ := limit.ParseKey(cc.Key)
			cz = &connZone{status: cmp(cc.Status, http.StatusServiceUnavailable), header: header, z: limit.NewConns(*cc),
				id: connZoneID{cc.Max, cc.Key, cc.MaxClients, trusting}}
			lz.conns[scope] = cz
		}
	}
	return rz, cz
}

// zoneScope names a location's own zone: its server, path, methods and
// header, which tell apart the locations of one server (two may share a
// path when their methods or header differ).
func zoneScope(lc *LocationConfig, server string) string {
	scope := server + " " + lc.Path + " " + strings.ToUpper(strings.Join(lc.Methods, ","))
	if h := lc.Header; h != nil {
		scope += " " + http.CanonicalHeaderKey(h.Name) + "=" + h.Value
	}
	return scope
}

// pick returns the location's own setting (scope: its server and path) if
// it has one, else the edge's (scope "").
func pick[T any](edge, own *T, path string) (*T, string) {
	if own != nil {
		return own, path
	}
	return edge, ""
}

func cmp(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// inherit takes over old's zones where the scope and settings are the same.
// The state lz belongs to has not served yet.
func (lz *limitZones) inherit(old *limitZones) {
	for scope, z := range lz.reqs {
		if o := old.reqs[scope]; o != nil && o.id == z.id {
			z.z = o.z
		}
	}
	for scope, z := range lz.conns {
		if o := old.conns[scope]; o != nil && o.id == z.id {
			z.z = o.z
		}
	}
}

// wrapLocation puts the location's limits and its internal guard (accel.go)
// around h. server is the location's server's first name ("" for
// edge.locations): a location's own zone is its server's and path's.
func (st *state) wrapLocation(h http.Handler, lc LocationConfig, server string, logger *slog.Logger) http.Handler {
	if rz, cz := st.limits.zones(&st.cfg, &lc, server); rz != nil || cz != nil {
		h = &limited{next: h, path: lc.Path, req: rz, conn: cz, trust: st.trust, logger: logger,
			ownRate: lc.RateLimit != nil, ownConn: lc.LimitConn != nil}
	}
	if lc.Internal {
		h = internalOnly{h}
	}
	return h
}

// limited is a location's handler behind its limits.
type limited struct {
	next   http.Handler
	path   string
	req    *reqZone  // nil: no rate limit
	conn   *connZone // nil: no concurrency limit
	trust  proxytrust.List
	logger *slog.Logger
	// The location sets its own rate_limit, limit_conn (not the edge's):
	// those count a redirected request its first location did not.
	ownRate, ownConn bool
	// Refusals by limit, set by metrics.attach (nil: not instrumented).
	refusedRate, refusedConn prometheus.Counter
}

func (l *limited) unwrap() http.Handler { return l.next }

func (l *limited) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// After X-Accel-Redirect, only the location's own limits of a kind
	// the first location did not apply.
	counted, redirected := r.Context().Value(accelKey{}).(accelCounted)
	now := time.Now()
	if rz := l.req; rz != nil && (!redirected || l.ownRate && !counted.rate) {
		key := l.key(r, rz.header)
		v := rz.z.Take(key, now)
		if !v.OK {
			l.refuse(w, r, "rate_limit", key, rz.status, v.RetryAfter, v.Log, v.Suppressed, l.refusedRate)
			return
		}
		if v.Wait > 0 {
			// Held until its turn (rate_limit with nodelay: false). A
			// client that leaves meanwhile is not served.
			t := time.NewTimer(v.Wait)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
	}
	if cz := l.conn; cz != nil && (!redirected || l.ownConn && !counted.conn) {
		key := l.key(r, cz.header)
		ok, log, suppressed := cz.z.Acquire(key, now)
		if !ok {
			l.refuse(w, r, "limit_conn", key, cz.status, time.Second, log, suppressed, l.refusedConn)
			return
		}
		// Released however the request ends: normally, or by a panic
		// (ReverseProxy aborts a broken response with one).
		defer cz.z.Release(key)
	}
	l.next.ServeHTTP(w, r)
}

func (l *limited) refuse(w http.ResponseWriter, r *http.Request, which, key string, status int, retry time.Duration, log bool, suppressed int, refused prometheus.Counter) {
	if log {
		l.logger.Warn("edge: limiting requests", "limit", which, "client", key, "location", l.path, "status", status,
			"uri", truncate(r.RequestURI), "refused_unlogged", suppressed, "log_every", limit.LogEvery)
	}
	if refused != nil {
		refused.Inc()
	}
	w.Header().Set("Retry-After", strconv.Itoa(limit.RetryAfterSeconds(retry)))
	errpage.Write(w, status)
}

// maxKeyLen bounds a key taken from a header, so that a zone's memory is
// bounded by max_clients whatever the clients send.
const maxKeyLen = 64

// key is the client a request counts for: the peer's address; behind a
// trusted proxy, the configured header's value or else the client that
// X-Forwarded-For names (nginx's realip), as the proxy forwards it.
func (l *limited) key(r *http.Request, header string) string {
	peer := peerHost(r.RemoteAddr)
	if len(l.trust) == 0 {
		return peer
	}
	if a, err := netip.ParseAddr(peer); err != nil || !l.trust.Trusts(a) {
		return peer
	}
	if header != "" {
		if v := strings.TrimSpace(headerValue(r.Header, header)); v != "" {
			return v[:min(len(v), maxKeyLen)]
		}
		return peer
	}
	if xff := r.Header["X-Forwarded-For"]; len(xff) > 0 {
		if real := l.trust.RealClient(strings.Join(xff, ", ")); real != "" {
			return real
		}
	}
	return peer
}

// peerHost is the address part of a RemoteAddr ("1.2.3.4:5678", "[::1]:80").
func peerHost(remote string) string {
	if i := strings.LastIndexByte(remote, ':'); i >= 0 && strings.IndexByte(remote[i:], ']') < 0 {
		remote = remote[:i]
	}
	return strings.TrimSuffix(strings.TrimPrefix(remote, "["), "]")
}

// unwrapper is a handler around a location's own (limited, internalOnly).
type unwrapper interface{ unwrap() http.Handler }

// innermost is the location's own handler under its wrappers.
func innermost(h http.Handler) http.Handler {
	for {
		u, ok := h.(unwrapper)
		if !ok {
			return h
		}
		h = u.unwrap()
	}
}

// newLimitedVec is the refusals counter, by location and limit.
func newLimitedVec() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stack_edge_rate_limited_total",
		Help: "Requests refused by a limit (limit: rate_limit or limit_conn), by location."}, []string{"location", "limit"})
}

// attachLimits resolves loc's refusal counters.
func (m *metrics) attachLimits(loc *location) {
	for h := loc.handler; ; {
		if l, ok := h.(*limited); ok {
			l.refusedRate = m.limited.WithLabelValues(loc.label, "rate_limit")
			l.refusedConn = m.limited.WithLabelValues(loc.label, "limit_conn")
		}
		u, ok := h.(unwrapper)
		if !ok {
			return
		}
		h = u.unwrap()
	}
}
