package edge

import (
	"net"
	"slices"

	"github.com/stack-web/stack/edge/internal/tlsfront"
)

// Accepting on the tls_listen addresses: each connection's handshake runs
// in a goroutine of its own (edge/internal/tlsfront says why and how),
// and the listeners of both kinds are opened here.

// startHandshake takes over a connection accepted on a TLS listener; the
// accept loop goes on at once. e.wg counts it: the accept loop that calls
// it is itself counted, so the Add cannot race Shutdown's Wait.
func (e *Edge) startHandshake(raw net.Conn) {
	timeout := e.cur.Load().cfg.ClientHeaderTimeout
	e.wg.Go(func() {
		c, err := e.tls.Handshake(raw, timeout, e.guard)
		if m := e.metrics; m != nil {
			// Once per connection: the label lookup is no burden.
			m.tls.WithLabelValues(tlsfront.Result(c, err)).Inc()
		}
		if err != nil {
			raw.Close()
			e.logger.Debug("edge: TLS handshake failed", "remote", raw.RemoteAddr().String(), "err", err)
			return
		}
		select {
		case e.tlsConns <- c:
		case <-e.done:
			c.Close()
		}
	})
}

// openAll opens cfg's plain and TLS addresses that have no listener yet;
// e.mu is held. On error nothing stays open.
func (e *Edge) openAll(cfg Config) ([]*acceptor, error) {
	plain, err := e.openMissing(cfg.Listen, false)
	if err != nil {
		return nil, err
	}
	secure, err := e.openMissing(cfg.TLSListen, true)
	if err != nil {
		for _, a := range plain {
			a.l.Close()
		}
		return nil, err
	}
	return append(plain, secure...), nil
}

// wanted reports whether cfg still lists a's address, as the same kind.
func (a *acceptor) wanted(cfg Config) bool {
	if a.tls {
		return slices.Contains(cfg.TLSListen, a.addr)
	}
	return slices.Contains(cfg.Listen, a.addr)
}

// addrs returns the addresses of the TLS listeners or of the others.
func (e *Edge) addrs(tls bool) []net.Addr {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []net.Addr
	for _, a := range e.listeners {
		if a.tls == tls {
			out = append(out, a.l.Addr())
		}
	}
	return out
}

// TLSAddrs returns the addresses the edge serves HTTPS on.
func (e *Edge) TLSAddrs() []net.Addr { return e.addrs(true) }
