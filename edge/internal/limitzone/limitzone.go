// Package limitzone applies rate_limit and limit_conn (nginx's limit_req
// and limit_conn) to a location: the zones of one configuration, by scope,
// kept across reloads, and the handler that counts each request in them
// and refuses it past its limit. It stands alone because it is the policy
// around edge/limit's primitives and needs nothing of the edge but a
// location's settings and the trusted proxies.
package limitzone

import (
	"context"
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
// limit_conn on an internal download location; the edge's accel.go).

// Counted says which limits the location that redirected a request (by
// X-Accel-Redirect) applied to it: the internal location's own limits skip
// those (nginx checks limit_req, and limit_conn, once per request) and
// apply the others.
type Counted struct{ Rate, Conn bool }

// redirectedKey marks the context of a redirected request; its value is a
// Counted.
type redirectedKey struct{}

// WithRedirected marks ctx as a redirected request's, counted by c.
func WithRedirected(ctx context.Context, c Counted) context.Context {
	return context.WithValue(ctx, redirectedKey{}, c)
}

// Redirected reports whether ctx is a redirected request's, and which
// limits counted it.
func Redirected(ctx context.Context) (Counted, bool) {
	c, ok := ctx.Value(redirectedKey{}).(Counted)
	return c, ok
}

// Zones are one configuration's zones, by scope ("" for the edge-wide ones,
// else the location's server and path).
type Zones struct {
	reqs  map[string]*ReqZone
	conns map[string]*ConnZone
}

// ReqZone is a rate_limit zone and what it was made from; z is replaced by
// the previous state's zone on reload (Inherit) before the state serves.
type ReqZone struct {
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

// ConnZone is a limit_conn zone, as ReqZone.
type ConnZone struct {
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

// Get returns a location's rate_limit and limit_conn zones (nil for
// none), made on first use: its own (own not nil) under scope, which names
// the location, or else the edge-wide one. trusting is trusted_proxies,
// which decide the keys: a zone made under others is not the same zone.
func (lz *Zones) Get(edgeRate, ownRate *limit.RateConfig, edgeConn, ownConn *limit.ConnConfig, scope, trusting string) (*ReqZone, *ConnZone) {
	own := scope
	var rz *ReqZone
	if rc, scope := pick(edgeRate, ownRate, own); rc.Enabled() {
		if lz.reqs == nil {
			lz.reqs = map[string]*ReqZone{}
		}
		if rz = lz.reqs[scope]; rz == nil {
			header, _, _ := limit.ParseKey(rc.Key)
			rz = &ReqZone{status: cmp(rc.Status, http.StatusTooManyRequests), header: header, z: limit.NewRequests(*rc),
				id: reqZoneID{rc.Rate, rc.Burst, rc.Key, rc.NoDelay == nil || *rc.NoDelay, rc.MaxClients, trusting}}
			lz.reqs[scope] = rz
		}
	}
	var cz *ConnZone
	if cc, scope := pick(edgeConn, ownConn, own); cc.Enabled() {
		if lz.conns == nil {
			lz.conns = map[string]*ConnZone{}
		}
		if cz = lz.conns[scope]; cz == nil {
			header, _, _ := limit.ParseKey(cc.Key)
			cz = &ConnZone{status: cmp(cc.Status, http.StatusServiceUnavailable), header: header, z: limit.NewConns(*cc),
				id: connZoneID{cc.Max, cc.Key, cc.MaxClients, trusting}}
			lz.conns[scope] = cz
		}
	}
	return rz, cz
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

// Inherit takes over old's zones where the scope and settings are the same.
// The state lz belongs to has not served yet.
func (lz *Zones) Inherit(old *Zones) {
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

// Handler is a location's handler behind its limits.
type Handler struct {
	next   http.Handler
	path   string
	req    *ReqZone  // nil: no rate limit
	conn   *ConnZone // nil: no concurrency limit
	trust  proxytrust.List
	logger *slog.Logger
	// The location sets its own rate_limit, limit_conn (not the edge's):
	// those count a redirected request its first location did not.
	ownRate, ownConn bool
	// Refusals by limit, set by SetRefused (nil: not instrumented).
	refusedRate, refusedConn prometheus.Counter
}

// New puts next (the location at path) behind the zones rz and cz (nil:
// no such limit), whose keys trust decides. ownRate and ownConn say the
// location sets its own rate_limit and limit_conn, which count a request
// redirected to it by X-Accel-Redirect if its first location did not.
func New(next http.Handler, path string, rz *ReqZone, cz *ConnZone, trust proxytrust.List, logger *slog.Logger, ownRate, ownConn bool) *Handler {
	return &Handler{next: next, path: path, req: rz, conn: cz, trust: trust, logger: logger, ownRate: ownRate, ownConn: ownConn}
}

// Unwrap is the location's handler under the limits.
func (l *Handler) Unwrap() http.Handler { return l.next }

// Counts says which limits l applies.
func (l *Handler) Counts() Counted { return Counted{Rate: l.req != nil, Conn: l.conn != nil} }

// SetRefused sets the counters of refusals by rate_limit and limit_conn.
func (l *Handler) SetRefused(rate, conn prometheus.Counter) {
	l.refusedRate, l.refusedConn = rate, conn
}

func (l *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// After X-Accel-Redirect, only the location's own limits of a kind
	// the first location did not apply.
	counted, redirected := Redirected(r.Context())
	now := time.Now()
	if rz := l.req; rz != nil && (!redirected || l.ownRate && !counted.Rate) {
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
	if cz := l.conn; cz != nil && (!redirected || l.ownConn && !counted.Conn) {
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

func (l *Handler) refuse(w http.ResponseWriter, r *http.Request, which, key string, status int, retry time.Duration, log bool, suppressed int, refused prometheus.Counter) {
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
func (l *Handler) key(r *http.Request, header string) string {
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

// NewRefusedVec is the refusals counter, by location and limit.
func NewRefusedVec() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stack_edge_rate_limited_total",
		Help: "Requests refused by a limit (limit: rate_limit or limit_conn), by location."}, []string{"location", "limit"})
}

func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// truncate bounds what a log line quotes of a client's input.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}
