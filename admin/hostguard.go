package admin

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// hostGuard answers 400 on the TCP listener to a request whose Host is
// not one of its names, as Django's ALLOWED_HOSTS does. The listener has
// no authentication, and a page on any site can make a browser send it
// requests: a DNS-rebinding attacker's name, resolved first to its server
// and then to 127.0.0.1, makes the admin same-origin with that page,
// which could then read /status and /config (redacted, but the setup).
// The attacker's name is in the Host, so the admin accepts only Hosts
// such a page cannot have: an IP address (Prometheus scraping
// 10.0.0.5:8001, a kubelet's probe), localhost, admin.listen's own host,
// and admin.allowed_hosts. A request without a Host (HTTP/1.0, no browser
// sends one) is taken. /healthz and /readyz answer any Host: they tell a
// page nothing worth a rebinding, and a load balancer's check by a name
// nobody listed must not take the stack out of rotation.
//
// The control socket has no guard: a browser cannot reach a Unix socket,
// and its 0600 mode is its authentication.
type hostGuard struct {
	next   http.Handler
	names  []string // lower case, without a trailing dot; ".example.com" takes its subdomains too
	anyone bool     // "*" is in admin.allowed_hosts
}

func newHostGuard(next http.Handler, c Config) *hostGuard {
	g := &hostGuard{next: next}
	if host, _, err := net.SplitHostPort(c.Listen); err == nil && host != "" {
		g.names = append(g.names, canonicalHost(host))
	}
	for _, n := range c.AllowedHosts {
		if n == "*" {
			g.anyone = true
		}
		g.names = append(g.names, canonicalHost(n))
	}
	return g
}

func (g *hostGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.anyone || r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || g.allowed(r.Host) {
		g.next.ServeHTTP(w, r)
		return
	}
	writeText(w, http.StatusBadRequest, "invalid Host header: the admin answers its address, localhost, an IP address or a name in admin.allowed_hosts\n")
}

// allowed reports whether host (a Host header, with or without a port)
// is one the admin answers.
func (g *hostGuard) allowed(host string) bool {
	if host == "" {
		return true
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = canonicalHost(host)
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil || host == "localhost" {
		return true
	}
	for _, n := range g.names {
		if host == n || (strings.HasPrefix(n, ".") && (strings.HasSuffix(host, n) || host == n[1:])) {
			return true
		}
	}
	return false
}

// canonicalHost is a name as hostGuard compares it: lower case, without
// a trailing dot.
func canonicalHost(h string) string {
	return strings.ToLower(strings.TrimSuffix(h, "."))
}
