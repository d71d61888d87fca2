package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stack-web/stack/edge/internal/framing"
)

// net/http serves TLS itself when its listener hands it a *tls.Conn: it
// runs the handshake, sets r.TLS and gives "h2" connections to its HTTP/2
// server. But an HTTP/1.1 connection it reads through the *tls.Conn
// directly, so the framing tracker (edge/internal/framing), which must see the
// decrypted bytes, could not sit in between, and a request with both
// Content-Length and Transfer-Encoding would be served over TLS where it
// is refused over plain HTTP.
//
// So the edge runs the handshake first, in a goroutine of its own per
// connection, bounded by client_header_timeout (as nginx bounds it) and by
// the edge's stop, then hands the server:
//
//   - for "h2", the *tls.Conn itself: net/http's handshake is then a no-op
//     and its HTTP/2 server takes over (HTTP/2 framing has no such
//     ambiguity: its server refuses Transfer-Encoding and a
//     Content-Length that disagrees with the DATA frames);
//   - for HTTP/1.1, the *tls.Conn inside a framing.Conn that keeps the
//     connection state, which front (tls.go) puts in r.TLS.
//
// A client that connects and sends nothing, or half a ClientHello, holds
// one goroutine and one socket until the timeout, then is closed; it never
// reaches the server, so it holds no http.Server connection either.

// startHandshake takes over a connection accepted on a TLS listener; the
// accept loop goes on at once. e.wg counts it: the accept loop that calls
// it is itself counted, so the Add cannot race Shutdown's Wait.
func (e *Edge) startHandshake(raw net.Conn) {
	timeout := e.cur.Load().cfg.ClientHeaderTimeout
	e.wg.Go(func() {
		c, err := e.handshake(raw, timeout)
		e.countHandshake(c, err)
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

// handshake runs the server side of the TLS handshake on raw and returns
// the connection to serve.
func (e *Edge) handshake(raw net.Conn, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(e.tls.ctx, timeout)
	defer cancel()
	tc := tls.Server(raw, e.tls.config)
	if err := tc.HandshakeContext(ctx); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			e.logger.Info("edge: client timed out in the TLS handshake", "remote", raw.RemoteAddr().String(), "timeout", timeout)
			return nil, errHandshakeTimeout
		}
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			// As net/http and nginx ("plain HTTP request sent to HTTPS port").
			re.Conn.SetWriteDeadline(time.Now().Add(time.Second))
			io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
		}
		return nil, err
	}
	state := tc.ConnectionState()
	if state.NegotiatedProtocol == "h2" {
		return tc, nil
	}
	return framing.NewConn(tc, e.guard, &state), nil
}

var errHandshakeTimeout = errors.New("tls: handshake timed out (client_header_timeout)")

func newHandshakesVec() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stack_edge_tls_handshakes_total",
		Help: "TLS handshakes on the tls_listen addresses, by result: the protocol agreed (h2, http/1.1), timeout (client_header_timeout), or failed."},
		[]string{"result"})
}

// countHandshake counts a handshake's result, when the edge is
// instrumented (once per connection: the label lookup is no burden).
func (e *Edge) countHandshake(c net.Conn, err error) {
	m := e.metrics
	if m == nil {
		return
	}
	result := "http/1.1"
	switch {
	case errors.Is(err, errHandshakeTimeout):
		result = "timeout"
	case err != nil:
		result = "failed"
	default:
		if _, ok := c.(*tls.Conn); ok {
			result = "h2"
		}
	}
	m.tls.WithLabelValues(result).Inc()
}

// looksLikeHTTP reports whether the first bytes of a connection are an
// HTTP request's rather than a TLS record's.
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO", "DELET", "PATCH", "CONNE":
		return true
	}
	return false
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
