package edge

import (
	"net/http"

	"github.com/stack-web/stack/edge/internal/hostmatch"
	"github.com/stack-web/stack/edge/internal/proxytrust"
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
	trust     proxytrust.List // whose X-Forwarded-* a location's condition believes
}

// router picks a request's site.
type router struct {
	names hostmatch.Table[*site] // with the default server, if any
	named bool                   // edge.servers is set: the Host is looked at
	only  *site                  // the default server: without edge.servers, the one site
}

// add registers s under sc's names.
func (rt *router) add(sc ServerConfig, s *site) {
	for _, n := range sc.Names {
		if rt.names.Add(n, s) == nil { // Validate refused the others
			rt.named = true
		}
	}
	if sc.Default {
		rt.names.SetDefault(s)
		rt.only = s
	}
}

// route returns the site that serves r, or nil when r is misdirected.
func (rt *router) route(r *http.Request) *site {
	if !rt.named {
		return rt.only
	}
	s, _ := rt.names.Lookup(r.Host)
	if s != nil && r.TLS != nil && r.TLS.ServerName != "" {
		if sni, _ := rt.names.Lookup(r.TLS.ServerName); sni != s {
			return nil
		}
	}
	return s
}
