package appserver

import (
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/stack-web/stack/appserver/internal/allow"
	"github.com/stack-web/stack/appserver/internal/sockconn"
)

// The allow-list of a TCP listener (appserver.allow) is package
// internal/allow's: here it is applied, in the uwsgi Server's accept loop
// (allowAcceptor) and around the other protocols' listeners
// (allowService).

// AllowAll is the allow-list entry that admits every address: the explicit
// opt-out from the allow-list (nginx's `allow all;`).
const AllowAll = allow.All

// ParseAllow parses appserver.allow's entries: "all", an IP address or a
// CIDR prefix. all reports an "all" entry; prefixes has the others, each
// an address as a one-address prefix.
func ParseAllow(entries []string) (prefixes []netip.Prefix, all bool, err error) {
	return allow.Parse(entries)
}

// allowAcceptor is an acceptor that closes, at once, every connection from
// an address outside the allow-list, and hands on the others.
type allowAcceptor struct {
	next     acceptor
	allow    []netip.Prefix
	listener string
	log      *allow.RefusalLog
}

func (a *allowAcceptor) accept() (sockconn.Conn, error) {
	for {
		c, err := a.next.accept()
		if err != nil {
			return nil, err
		}
		ra, ok := c.(interface{ RemoteAddr() net.Addr })
		if !ok {
			return c, nil // a Unix socket's connection: its mode guards it
		}
		if ip, ok := allow.Allowed(a.allow, ra.RemoteAddr()); !ok {
			c.Reset() // RST, not FIN: nothing was read, and nothing will be
			c.Close()
			a.log.Refused(ip, a.listener)
			continue
		}
		return c, nil
	}
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
	return s.Service.Serve(allow.Listener{Listener: l, Allow: s.allow,
		Log: &allow.RefusalLog{Logger: s.logger, Interval: time.Second}})
}
