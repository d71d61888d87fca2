// Package tlsfront is the edge's TLS side, as nginx's ssl listeners and
// Caddy's automatic HTTPS: the certificates in use (edge/tlscert's
// manager) and the listeners' tls.Config, the handshakes, run by the edge
// itself so that HTTP/1.1 over TLS still goes through the framing tracker,
// and the checks TLS adds to a request (a valid Host, an HTTP/2 head
// measured as an HTTP/1.1 one, the redirect to HTTPS). It stands alone
// because none of it needs the edge's locations or state: the edge tells
// it the Settings of each configuration and asks it per connection and
// per request.
package tlsfront

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stack-web/stack/edge/internal/framing"
	"github.com/stack-web/stack/edge/internal/hostmatch"
	"github.com/stack-web/stack/edge/tlscert"
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
//     connection state, which the edge's tlsFront puts in r.TLS.
//
// A client that connects and sends nothing, or half a ClientHello, holds
// one goroutine and one socket until the timeout, then is closed; it never
// reaches the server, so it holds no http.Server connection either.

// Side is the edge's TLS side: the certificates, the listeners'
// tls.Config, what the current configuration says about redirects and
// HSTS, and the handshakes under way.
type Side struct {
	logger   *slog.Logger
	certs    *tlscert.Manager
	config   *tls.Config
	settings atomic.Pointer[Settings]
	tickets  atomic.Pointer[sharedTickets] // nil: crypto/tls's own keys (tickets.go)
	// ctx ends when the edge stops accepting: handshakes in progress end
	// with it instead of holding Shutdown for client_header_timeout.
	ctx  context.Context
	stop context.CancelFunc
}

// Settings are what one configuration says about requests and TLS.
type Settings struct {
	HSTS         []string // the Strict-Transport-Security value, nil when off
	RedirectPort string   // the HTTPS port plain requests go to; "" = no redirect
	MaxHead      int      // max_header_size, for HTTP/2 heads
}

// New makes a TLS side with no certificate yet.
func New(logger *slog.Logger) *Side {
	t := &Side{logger: logger, certs: tlscert.NewManager(logger)}
	t.config = t.certs.TLSConfig()
	t.ctx, t.stop = context.WithCancel(context.Background())
	return t
}

// Load reads sites' certificates without serving them.
func (t *Side) Load(sites []tlscert.Site, opts tlscert.Options) (*tlscert.Certs, error) {
	return t.certs.Load(sites, opts)
}

// Use makes certs (from Load; nil keeps the current ones) and s current.
func (t *Side) Use(certs *tlscert.Certs, s *Settings) {
	if certs != nil {
		t.certs.Use(certs)
	}
	t.settings.Store(s)
}

// Settings are the current configuration's.
func (t *Side) Settings() *Settings { return t.settings.Load() }

// Stop ends the handshakes under way, and any later one at once.
func (t *Side) Stop() { t.stop() }

// Handshake runs the server side of the TLS handshake on raw, bounded by
// timeout and by Stop, and returns the connection to serve: for HTTP/1.1,
// inside a framing.Conn that checks heads against guard.
func (t *Side) Handshake(raw net.Conn, timeout time.Duration, guard framing.Guard) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(t.ctx, timeout)
	defer cancel()
	if s := t.tickets.Load(); s != nil {
		s.update(t, time.Now())
	}
	tc := tls.Server(raw, t.config)
	if err := tc.HandshakeContext(ctx); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.logger.Info("edge: client timed out in the TLS handshake", "remote", raw.RemoteAddr().String(), "timeout", timeout)
			return nil, ErrHandshakeTimeout
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
	return framing.NewConn(tc, guard, &state), nil
}

// ErrHandshakeTimeout: the client did not finish its handshake within
// client_header_timeout.
var ErrHandshakeTimeout = errors.New("tls: handshake timed out (client_header_timeout)")

// NewHandshakesVec is the handshakes counter, by Result.
func NewHandshakesVec() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stack_edge_tls_handshakes_total",
		Help: "TLS handshakes on the tls_listen addresses, by result: the protocol agreed (h2, http/1.1), timeout (client_header_timeout), or failed."},
		[]string{"result"})
}

// Result names a handshake's result for the metrics: h2, http/1.1,
// timeout or failed. c and err are Handshake's.
func Result(c net.Conn, err error) string {
	result := "http/1.1"
	switch {
	case errors.Is(err, ErrHandshakeTimeout):
		result = "timeout"
	case err != nil:
		result = "failed"
	default:
		if _, ok := c.(*tls.Conn); ok {
			result = "h2"
		}
	}
	return result
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

// Redirect answers 308 (the method and body are kept) to the same URL on
// the HTTPS port.
func Redirect(w http.ResponseWriter, r *http.Request, port string) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1] // "[::1]": an IPv6 literal without a port
	}
	if host == "" {
		if la, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
			host = la.IP.String()
		}
	}
	if port != "443" || strings.Contains(host, ":") {
		host = net.JoinHostPort(host, port)
	}
	target := r.URL.RequestURI()
	if !strings.HasPrefix(target, "/") {
		target = "/"
	}
	w.Header().Set("Location", "https://"+host+target)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusPermanentRedirect)
	if r.Method != http.MethodHead {
		fmt.Fprintln(w, "308 Permanent Redirect to HTTPS")
	}
}

// ForwardedHTTPS reports whether r's X-Forwarded-Proto says the client
// came over HTTPS (its first value: the proxy nearest the client), as
// Django's SECURE_PROXY_SSL_HEADER reads it.
func ForwardedHTTPS(r *http.Request) bool {
	v := r.Header.Get("X-Forwarded-Proto")
	if v == "" {
		return false
	}
	first, _, _ := strings.Cut(v, ",")
	return strings.EqualFold(strings.TrimSpace(first), "https")
}

// ValidHost reports whether h is a Host net/http's HTTP/1.1 server takes
// (httpguts.ValidHostHeader): a host name or address, a port, the bytes
// of percent-escapes and sub-delims, nothing else; and one of the shape
// the edge routes (hostmatch.Valid: "a.test:80:80" and "[::1" are not),
// whichever front and protocol brought it.
func ValidHost(h string) bool {
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!$%&'()*+,-.:;=[]_~", c) >= 0:
		default:
			return false
		}
	}
	return hostmatch.Valid(h)
}

// ValidH2Target reports whether an HTTP/2 :path (r.RequestURI) is what
// RFC 9113 allows (§8.3.1) and nginx takes ("client sent invalid :path
// header" else): an absolute path, or "*", without a space or a control
// byte. Go's HTTP/2 server refuses the control bytes itself, but not the
// space, which no HTTP/1.1 request line can carry and which the edge would
// pass on in the query (the app's REQUEST_URI, an http upstream's request
// line: "GET /?a= HTTP/1.0 HTTP/1.1"), nor an absolute URI, whose host
// would choose the server and reach the app unchecked: the :authority is
// checked as a Host, that host was not ("http://a<b>/").
func ValidH2Target(target string) bool {
	if target != "*" && !strings.HasPrefix(target, "/") {
		return false
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// H2HeadVerdict measures an HTTP/2 request head as its HTTP/1.1 form
// would be (request line, Host and each field, with line ends), so that
// max_header_size means the same on either protocol: 414 for a target over
// a quarter of it, 431 for a head over it. (net/http's HTTP/2 server is
// given twice the limit, as its HTTP/1.1 server is, and refuses what is
// further over with 431 itself.)
func H2HeadVerdict(r *http.Request, maxHead int) framing.Verdict {
	if maxHead <= 0 {
		return framing.OK
	}
	line := len(r.Method) + 1 + len(r.RequestURI) + len(" HTTP/1.1\r\n")
	if line > maxHead/4 {
		return framing.LineTooLong
	}
	n := line + len("Host: \r\n") + len(r.Host) + len("\r\n")
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + len(": \r\n") + len(v)
		}
	}
	if n > maxHead {
		return framing.HeadTooLarge
	}
	return framing.OK
}
