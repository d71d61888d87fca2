package edge

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/stack-web/stack/edge/internal/limitzone"
	"github.com/stack-web/stack/edge/limit"
)

// Rate and concurrency limits per client (nginx's limit_req and
// limit_conn), as a wrapper around a location's handler: the zones and the
// handler are edge/internal/limitzone's; here are the keys' validation and
// a location's zone scope.

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

// limitZones are one state's zones (edge/internal/limitzone).
type limitZones struct{ limitzone.Zones }

// zones returns the rate_limit and limit_conn zones of lc (nil for none),
// made on first use.
func (lz *limitZones) zones(cfg *Config, lc *LocationConfig, server string) (*limitzone.ReqZone, *limitzone.ConnZone) {
	return lz.Get(cfg.RateLimit, lc.RateLimit, cfg.LimitConn, lc.LimitConn, zoneScope(lc, server), strings.Join(cfg.TrustedProxies, ","))
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

// wrapLocation puts the location's limits and its internal guard (accel.go)
// around h. server is the location's server's first name ("" for
// edge.locations): a location's own zone is its server's and path's.
func (st *state) wrapLocation(h http.Handler, lc LocationConfig, server string, logger *slog.Logger) http.Handler {
	if rz, cz := st.limits.zones(&st.cfg, &lc, server); rz != nil || cz != nil {
		h = limitzone.New(h, lc.Path, rz, cz, st.trust, logger, lc.RateLimit != nil, lc.LimitConn != nil)
	}
	if lc.Internal {
		h = internalOnly{h}
	}
	return h
}

// unwrapper is a handler around a location's own (limitzone.Handler, internalOnly, compression).
type unwrapper interface{ Unwrap() http.Handler }

// innermost is the location's own handler under its wrappers.
func innermost(h http.Handler) http.Handler {
	for {
		u, ok := h.(unwrapper)
		if !ok {
			return h
		}
		h = u.Unwrap()
	}
}

// attachLimits resolves loc's refusal counters.
func (m *metrics) attachLimits(loc *location) {
	for h := loc.handler; ; {
		if l, ok := h.(*limitzone.Handler); ok {
			l.SetRefused(m.limited.WithLabelValues(loc.label, "rate_limit"), m.limited.WithLabelValues(loc.label, "limit_conn"))
		}
		u, ok := h.(unwrapper)
		if !ok {
			return
		}
		h = u.Unwrap()
	}
}
