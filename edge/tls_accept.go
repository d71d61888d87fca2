package edge

import (
	"net"

	"github.com/stack-web/stack/edge/internal/intake"
	"github.com/stack-web/stack/edge/internal/tlsfront"
)

// Accepting on the tls_listen addresses: each connection's handshake runs
// in a goroutine of its own (edge/internal/tlsfront says why and how).

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

// addrs returns the addresses of the TLS listeners or of the others.
func (e *Edge) addrs(tls bool) []net.Addr {
	e.mu.Lock()
	defer e.mu.Unlock()
	return intake.Addrs(e.listeners, tls)
}

// TLSAddrs returns the addresses the edge serves HTTPS on.
func (e *Edge) TLSAddrs() []net.Addr { return e.addrs(true) }
