// Package proxytrust answers whether a peer is a trusted proxy
// (edge.trusted_proxies), whose forwarding headers (X-Forwarded-*,
// X-Request-Id, a limit's key header) the edge believes, which client
// an X-Forwarded-For chain names behind such proxies (nginx's realip), and
// so what the edge forwards about the client (Forwarded, Untrusted). It
// stands alone because the proxy, the location matcher, the limits and the
// request id all ask it, and it needs none of them.
package proxytrust

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// List is the trusted proxies; nil trusts no one.
type List []netip.Prefix

// New parses edge.trusted_proxies: addresses or CIDR ranges.
func New(list []string) (List, error) {
	var t List
	for _, s := range list {
		p, err := ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("edge: trusted proxy %q: %w", s, err)
		}
		t = append(t, p.Masked())
	}
	return t, nil
}

// ParsePrefix parses an address (as a one-address range) or a CIDR range.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// Trusts reports whether a is a trusted proxy's address.
func (t List) Trusts(a netip.Addr) bool {
	a = a.Unmap()
	return slices.ContainsFunc(t, func(p netip.Prefix) bool { return p.Contains(a) })
}

// TrustsClient reports whether r comes from a trusted proxy, whose
// forwarding headers the edge keeps.
func (t List) TrustsClient(r *http.Request) bool {
	if len(t) == 0 {
		return false
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	a, err := netip.ParseAddr(ip)
	return err == nil && t.Trusts(a)
}

// RealClient walks an X-Forwarded-For chain from the right, skipping
// trusted proxies, and returns the first address it reaches.
func (t List) RealClient(chain string) string {
	for chain != "" {
		var hop string
		if i := strings.LastIndexByte(chain, ','); i >= 0 {
			chain, hop = chain[:i], strings.TrimSpace(chain[i+1:])
		} else {
			chain, hop = "", strings.TrimSpace(chain)
		}
		a, err := netip.ParseAddr(hop)
		if err != nil {
			return ""
		}
		if !t.Trusts(a) {
			// ::ffff:192.0.2.1 is the client 192.0.2.1 (as the peer
			// address of an IPv4 client of a [::] listener is).
			return a.Unmap().String()
		}
	}
	return ""
}

// Forwarded is what the edge tells the app about r's client: the
// X-Forwarded-For, -Proto and -Host values it sends, and the client's
// address (REMOTE_ADDR; "" where r's peer has no port, as a Unix socket's).
// A trusted proxy's forwarding headers are kept and extended, and the
// client is the nearest address it vouches for (nginx's realip with
// real_ip_recursive on); anyone else's are replaced. Read r's header
// before the proxy strips the client's forwarding headers.
func (t List) Forwarded(r *http.Request) (xff, proto, host, remote string) {
	clientIP, port, _ := net.SplitHostPort(r.RemoteAddr)
	proto, host = "http", r.Host
	if r.TLS != nil {
		proto = "https"
	}
	xff, remote = clientIP, r.RemoteAddr
	if port == "" {
		remote = ""
	}
	if len(t) == 0 {
		return
	}
	if peer, err := netip.ParseAddr(clientIP); err == nil && t.Trusts(peer) {
		h := r.Header
		if prior := strings.Join(h["X-Forwarded-For"], ", "); prior != "" {
			xff = prior + ", " + clientIP
			if real := t.RealClient(prior); real != "" {
				remote = net.JoinHostPort(real, "0")
			}
		}
		if v := first(h, "X-Forwarded-Proto"); v == "http" || v == "https" {
			proto = v
		}
		if v := first(h, "X-Forwarded-Host"); v != "" {
			host = v
		}
	}
	return
}

// Untrusted is the value of header (X-Forwarded-For, -Proto or -Host) that
// the edge sends the app for a client it does not trust.
func Untrusted(header string, r *http.Request) string {
	switch header {
	case "X-Forwarded-Proto":
		if r.TLS != nil {
			return "https"
		}
		return "http"
	case "X-Forwarded-Host":
		return r.Host
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	return ip
}

func first(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}
