package appserver

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// The allow-list of a TCP listener (appserver.allow).
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

// AllowAll is the allow-list entry that admits every address: the explicit
// opt-out from the allow-list (nginx's `allow all;`).
const AllowAll = "all"

// ParseAllow parses appserver.allow's entries: "all", an IP address or a
// CIDR prefix. all reports an "all" entry; prefixes has the others, each
// an address as a one-address prefix.
func ParseAllow(entries []string) (prefixes []netip.Prefix, all bool, err error) {
	for i, e := range entries {
		e = strings.TrimSpace(e)
		switch {
		case e == AllowAll:
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

// allowed reports whether addr (a connection's remote address) is in
// prefixes. An address that is not IP (a Unix socket's peer) is allowed:
// the socket file's mode guards those.
func allowed(prefixes []netip.Prefix, addr net.Addr) (netip.Addr, bool) {
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

// allowAcceptor is an acceptor that closes, at once, every connection from
// an address outside the allow-list, and hands on the others.
type allowAcceptor struct {
	next     acceptor
	allow    []netip.Prefix
	listener string
	log      *refusalLog
}

func (a *allowAcceptor) accept() (connection, error) {
	for {
		c, err := a.next.accept()
		if err != nil {
			return nil, err
		}
		ra, ok := c.(interface{ RemoteAddr() net.Addr })
		if !ok {
			return c, nil // a Unix socket's connection: its mode guards it
		}
		if ip, ok := allowed(a.allow, ra.RemoteAddr()); !ok {
			c.Reset() // RST, not FIN: nothing was read, and nothing will be
			c.Close()
			a.log.refused(ip, a.listener)
			continue
		}
		return c, nil
	}
}

// refusalLog logs refused connections at most once per interval, with how
// many were refused since the last line: a scanner or a flood hammering the
// port must not flood the log too.
type refusalLog struct {
	logger   *slog.Logger
	interval time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (r *refusalLog) refused(from netip.Addr, listener string) {
	r.mu.Lock()
	now := time.Now()
	if !r.last.IsZero() && now.Sub(r.last) < r.interval {
		r.suppressed++
		r.mu.Unlock()
		return
	}
	n := r.suppressed
	r.last, r.suppressed = now, 0
	r.mu.Unlock()
	r.logger.Warn("appserver: refused a connection from an address not in appserver.allow (the uwsgi protocol has no authentication)",
		"from", from.String(), "listener", listener, "refused_unlogged", n)
}

// allowService applies the allow-list to a service that accepts on a
// net.Listener (protocol: http and fastcgi, served by net/http and
// net/http/fcgi); the uwsgi Server applies it in its own accept loop.
type allowService struct {
	Service
	allow  []netip.Prefix
	logger *slog.Logger
}

func (s allowService) Serve(l net.Listener) error {
	return s.Service.Serve(allowListener{Listener: l, allow: s.allow,
		log: &refusalLog{logger: s.logger, interval: time.Second}})
}

// allowListener's Accept resets, at once, every connection from an
// address outside the allow-list, and returns the others.
type allowListener struct {
	net.Listener
	allow []netip.Prefix
	log   *refusalLog
}

func (l allowListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip, ok := allowed(l.allow, c.RemoteAddr())
		if ok {
			return c, nil
		}
		if tc, isTCP := c.(*net.TCPConn); isTCP {
			tc.SetLinger(0) // RST, not FIN: nothing was read, and nothing will be
		}
		c.Close()
		l.log.refused(ip, l.Addr().String())
	}
}
