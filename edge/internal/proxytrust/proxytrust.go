// Package proxytrust answers whether a peer is a trusted proxy
// (edge.trusted_proxies), whose forwarding headers (X-Forwarded-*,
// X-Request-Id, a limit's key header) the edge believes, and which client
// an X-Forwarded-For chain names behind such proxies (nginx's realip). It
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
