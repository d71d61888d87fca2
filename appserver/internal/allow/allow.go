// Package allow is the allow-list of a TCP listener (appserver.allow):
// its entries parsed and validated against appserver.listen, the check of
// a connection's address, and the rate-limited log of refusals.
//
// The uwsgi protocol has no authentication: whoever can connect can send
// any request, with any REMOTE_ADDR, HTTPS or X-Forwarded-For it likes,
// straight past the edge's limits. On a Unix socket the file's permission
// bits decide who connects; on TCP nothing does, so an app server listening
// on an address other hosts reach takes only the connections whose source
// address is allowed, as nginx's `allow` directive (ngx_http_access_module)
// does per request, with the same spelling: an address, a CIDR prefix, or
// `all`. A refused connection is closed as it is accepted, before any of
// its bytes is read, so it costs the app nothing.
//
// It stands alone because it knows addresses, not requests: package
// appserver applies it in the uwsgi Server's accept loop and, through
// Listener, to the net/http-based protocols.
package allow

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// All is the allow-list entry that admits every address: the explicit
// opt-out from the allow-list (nginx's `allow all;`).
const All = "all"

// Parse parses appserver.allow's entries: "all", an IP address or a
// CIDR prefix. all reports an "all" entry; prefixes has the others, each
// an address as a one-address prefix.
func Parse(entries []string) (prefixes []netip.Prefix, all bool, err error) {
	for i, e := range entries {
		e = strings.TrimSpace(e)
		switch {
		case e == All:
			all = true
		case strings.Contains(e, "/"):
			p, perr := netip.ParsePrefix(e)
			if perr != nil {
				return nil, false, fmt.Errorf("appserver.allow[%d]: %q is not a CIDR prefix such as 10.0.0.0/24", i, e)
			}
			if p.Addr().Zone() != "" {
				return nil, false, fmt.Errorf("appserver.allow[%d]: %q has a zone; use an address without %%zone", i, e)
			}
			if p.Addr().Is4In6() {
				// Connections' addresses are compared unmapped (a
				// dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d),
				// so a mapped prefix is kept as the IPv4 prefix it names.
				if p.Bits() < 96 {
					return nil, false, fmt.Errorf("appserver.allow[%d]: %q is an IPv4-mapped prefix shorter than /96; write the IPv4 prefix (e.g. 10.0.0.0/8)", i, e)
				}
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			prefixes = append(prefixes, p.Masked())
		default:
			a, aerr := netip.ParseAddr(e)
			if aerr != nil {
				return nil, false, fmt.Errorf("appserver.allow[%d]: %q is not an IP address, a CIDR prefix or \"all\"", i, e)
			}
			if a.Zone() != "" {
				return nil, false, fmt.Errorf("appserver.allow[%d]: %q has a zone; use an address without %%zone", i, e)
			}
			a = a.Unmap()
			prefixes = append(prefixes, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return prefixes, all, nil
}

// Allowed reports whether addr (a connection's remote address) is in
// prefixes. An address that is not IP (a Unix socket's peer) is allowed:
// the socket file's mode guards those.
func Allowed(prefixes []netip.Prefix, addr net.Addr) (netip.Addr, bool) {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, true
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return netip.Addr{}, false
	}
	ip = ip.Unmap()
	for _, p := range prefixes {
		if p.Contains(ip) {
			return ip, true
		}
	}
	return ip, false
}

// RefusalLog logs refused connections at most once per interval, with how
// many were refused since the last line: a scanner or a flood hammering the
// port must not flood the log too.
type RefusalLog struct {
	Logger   *slog.Logger
	Interval time.Duration // one line at most per Interval

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// Refused notes a connection from from refused on listener, and logs it
// unless one was logged less than Interval ago.
func (r *RefusalLog) Refused(from netip.Addr, listener string) {
	r.mu.Lock()
	now := time.Now()
	if !r.last.IsZero() && now.Sub(r.last) < r.Interval {
		r.suppressed++
		r.mu.Unlock()
		return
	}
	n := r.suppressed
	r.last, r.suppressed = now, 0
	r.mu.Unlock()
	r.Logger.Warn("appserver: refused a connection from an address not in appserver.allow (the uwsgi protocol has no authentication)",
		"from", from.String(), "listener", listener, "refused_unlogged", n)
}

// Listener's Accept resets, at once, every connection from an
// address outside the allow-list, and returns the others.
type Listener struct {
	net.Listener
	Allow []netip.Prefix
	Log   *RefusalLog
}

func (l Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip, ok := Allowed(l.Allow, c.RemoteAddr())
		if ok {
			return c, nil
		}
		if tc, isTCP := c.(*net.TCPConn); isTCP {
			tc.SetLinger(0) // RST, not FIN: nothing was read, and nothing will be
		}
		c.Close()
		l.Log.Refused(ip, l.Addr().String())
	}
}

// Validate checks appserver.allow's entries against appserver.listen: a
// TCP listen that other hosts can reach must say whom it admits.
func Validate(listen string, entries []string) error {
	prefixes, all, err := Parse(entries)
	if err != nil {
		return err
	}
	if all && len(prefixes) > 0 {
		return fmt.Errorf("appserver.allow: %q admits every address, so the other entries do nothing; keep only one or the other", All)
	}
	if strings.HasPrefix(listen, "unix:") {
		if len(entries) > 0 {
			return fmt.Errorf("appserver.allow: applies to a TCP appserver.listen; a Unix socket is guarded by appserver.socket_mode")
		}
		return nil
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil || len(entries) > 0 || loopbackHost(host) {
		return nil
	}
	return fmt.Errorf("appserver.allow: empty, but appserver.listen %s is reachable from other hosts and the uwsgi protocol has no authentication "+
		"(anyone who connects can send any request); list the edge hosts' addresses or prefixes (e.g. [10.0.0.5, 10.0.0.0/24]), "+
		"listen on 127.0.0.1 or a Unix socket, or opt out with [%s]", listen, All)
}

// loopbackHost reports whether a listen host is reachable from this host
// only.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
