package edge

import (
	"net/http"
	"strings"
)

// Choosing a request's server (virtual host) by its Host, as nginx does:
// an exact name first, then the longest leading wildcard, then the default
// server. The Host is compared without its port, in lower case, without a
// trailing dot; a request without one (HTTP/1.0) goes to the default
// server. With no default server, an unknown Host gets 421 Misdirected
// Request (RFC 9110 15.5.20: this edge has no server for that authority),
// as does a TLS request whose SNI chose another server than its Host
// names: a client reusing one HTTP/2 connection for another name whose
// certificate happened to cover it (connection coalescing) is told to
// open a connection of its own.

// site is one server as served: its locations, in the order tried.
type site struct {
	name      string // its first name, for logs and metrics; "" for edge.locations
	locations []location
}

// router picks a request's site.
type router struct {
	exact    map[string]*site // normalised name → its server
	wildcard map[string]*site // ".example.com" for "*.example.com"
	fallback *site            // the default server; nil: unknown hosts get 421
	named    bool             // edge.servers is set: the Host is looked at
}

// add registers s under sc's names.
func (rt *router) add(sc ServerConfig, s *site) {
	if rt.exact == nil {
		rt.exact, rt.wildcard = map[string]*site{}, map[string]*site{}
	}
	for _, n := range sc.Names {
		n, err := normalizeName(n)
		if err != nil {
			continue // Validate refused it
		}
		rt.named = true
		if rest, ok := strings.CutPrefix(n, "*"); ok {
			rt.wildcard[rest] = s
		} else {
			rt.exact[n] = s
		}
	}
	if sc.Default {
		rt.fallback = s
	}
}

// route returns the site that serves r, or nil when r is misdirected.
func (rt *router) route(r *http.Request) *site {
	if !rt.named {
		return rt.fallback
	}
	s := rt.lookup(r.Host)
	if s != nil && r.TLS != nil && r.TLS.ServerName != "" && rt.lookup(r.TLS.ServerName) != s {
		return nil
	}
	return s
}

// lookup returns the site that host (a Host header or an SNI name) names.
// It allocates nothing unless host has upper-case letters.
func (rt *router) lookup(host string) *site {
	h := hostName(host)
	if s, ok := rt.exact[h]; ok {
		return s
	}
	if len(rt.wildcard) > 0 {
		// The first dot leaves the longest suffix: a.b.example.com tries
		// .b.example.com, then .example.com, then .com.
		for i := 1; i < len(h); i++ {
			if h[i] == '.' {
				if s, ok := rt.wildcard[h[i:]]; ok {
					return s
				}
			}
		}
	}
	return rt.fallback
}

// hostName is a Host's name as the router keys it: without the port, the
// trailing dot or upper case; "[::1]" for "[::1]:8000".
func hostName(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			h = h[:i+1]
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if 'A' <= h[i] && h[i] <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}
