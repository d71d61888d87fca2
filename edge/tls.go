package edge

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stack-web/stack/edge/internal/accesslog"
	"github.com/stack-web/stack/edge/internal/errpage"
	"github.com/stack-web/stack/edge/internal/framing"
	"github.com/stack-web/stack/edge/internal/tlsfront"
	"github.com/stack-web/stack/edge/tlscert"
)

// TLS at the edge, as nginx's ssl listeners and Caddy's automatic HTTPS:
// the tls_listen addresses speak TLS with the certificate of edge.tls (or
// of the virtual server the client names by SNI), HTTP/2 or HTTP/1.1 by
// ALPN, on the same http.Server generation as the plain listeners. The
// handshake is the edge's own (edge/internal/tlsfront), so that an HTTP/1.1
// connection over TLS still goes through the framing tracker, on its
// decrypted bytes; what the app sees is in front below.

// HSTSConfig is edge.hsts, the Strict-Transport-Security header sent on
// every answer over TLS. A max_age of 0 sends nothing (the default: a
// browser told once cannot be untold until the age passes).
type HSTSConfig struct {
	MaxAge            time.Duration `yaml:"max_age"`
	IncludeSubdomains bool          `yaml:"include_subdomains"`
	Preload           bool          `yaml:"preload"`
}

// header is the header's value, "" when off.
func (h HSTSConfig) header() string {
	if h.MaxAge <= 0 {
		return ""
	}
	v := "max-age=" + strconv.FormatInt(int64(h.MaxAge/time.Second), 10)
	if h.IncludeSubdomains {
		v += "; includeSubDomains"
	}
	if h.Preload {
		v += "; preload"
	}
	return v
}

// hstsPreloadAge is the least max-age the browsers' preload list takes.
const hstsPreloadAge = 365 * 24 * time.Hour

// validateTLS checks tls, tls_listen, tls_redirect and hsts; the
// certificate files are read, so `stack check` finds a missing or
// mismatched one before a start or a reload does.
func (c *Config) validateTLS(bad func(key, format string, args ...any)) {
	for i, a := range c.TLSListen {
		key := fmt.Sprintf("tls_listen[%d]", i)
		_, port, err := net.SplitHostPort(a)
		if err != nil {
			bad(key, "%q is not host:port (e.g. 127.0.0.1:8443, or 0.0.0.0:443 for every interface)", a)
		}
		if port == "0" {
			continue // any free port: no two are the same
		}
		if j := slices.Index(c.Listen, a); j >= 0 {
			bad(key, "%q is also listen[%d]; an address speaks either plain HTTP or TLS", a, j)
		}
		if j := slices.Index(c.TLSListen[:i], a); j >= 0 {
			bad(key, "%q is also tls_listen[%d]", a, j)
		}
	}
	switch {
	case len(c.TLSListen) > 0 && !c.anyTLS():
		bad("tls_listen", "is set but edge.tls is off; give tls: internal (a local CA under run_dir) or tls: {cert_file: F, key_file: F}")
	case len(c.TLSListen) == 0 && !c.TLS.IsZero():
		bad("tls", "is set but edge.tls_listen is empty; add the addresses to serve HTTPS on, e.g. tls_listen: [\"127.0.0.1:8443\"]")
	case len(c.TLSListen) == 0 && c.anyTLS():
		bad("tls_listen", "is empty but a server has tls; add the addresses to serve HTTPS on, e.g. tls_listen: [\"127.0.0.1:8443\"]")
	}
	for _, err := range c.TLS.Validate("tls") {
		relay(bad, err)
	}
	if err := c.TLS.Check("tls"); err != nil {
		relay(bad, err)
	}
	internal := c.TLS.Internal
	for i, s := range c.Servers {
		// The shape is checked with the server (vhost_config.go); the files here.
		if err := s.TLS.Check(fmt.Sprintf("servers[%d].tls", i)); err != nil {
			relay(bad, err)
		}
		internal = internal || s.TLS.Internal
	}
	if internal && len(c.TLSListen) > 0 {
		if err := tlscert.CheckCA(c.TLSDir); err != nil {
			bad("tls", "internal: %v", err)
		}
	}
	if c.TLSRedirect && len(c.TLSListen) == 0 {
		bad("tls_redirect", "is true but edge.tls_listen is empty: there is no HTTPS address to redirect to")
	}
	switch h := c.HSTS; {
	case h.MaxAge < 0:
		bad("hsts.max_age", "must not be negative (0 sends no Strict-Transport-Security; e.g. 8760h for a year)")
	case h.MaxAge%time.Second != 0:
		// The header counts whole seconds: 500ms would send max-age=0,
		// which tells browsers to forget the site's HSTS.
		bad("hsts.max_age", "%v is not a whole number of seconds (the header counts seconds; e.g. 8760h for a year, 0 for none)", h.MaxAge)
	case h.Preload && (h.MaxAge < hstsPreloadAge || !h.IncludeSubdomains):
		bad("hsts.preload", "needs max_age of at least 8760h (a year) and include_subdomains: true, as the browsers' preload list does")
	case h.MaxAge > 0 && len(c.TLSListen) == 0:
		bad("hsts.max_age", "is set but edge.tls_listen is empty; the header is sent over TLS only")
	}
}

// relay passes an error written "key: message" (key under edge.) to bad.
func relay(bad func(key, format string, args ...any), err error) {
	key, msg, _ := strings.Cut(err.Error(), ": ")
	bad(strings.TrimPrefix(key, "edge."), "%s", msg)
}

// startTLS makes the edge's TLS side for cfg, its certificates loaded
// (edge/internal/tlsfront).
func startTLS(cfg Config, logger *slog.Logger) (*tlsfront.Side, error) {
	t := tlsfront.New(logger)
	certs, err := loadTLS(t, cfg)
	if err != nil {
		return nil, err
	}
	useTLS(t, cfg, certs)
	return t, nil
}

// SessionTicketSecretSize is the size of ShareSessionTickets' secret.
const SessionTicketSecretSize = tlsfront.TicketSecretSize

// ShareSessionTickets makes the edge's TLS session tickets sealed with
// keys derived from secret (32 bytes), as every other edge process given
// the same secret does: a client resumes its session on whichever of
// them the kernel gives its next connection (edge.processes; see
// edge/internal/tlsfront's tickets.go). Without it each edge has keys of
// its own. Call it before Serve.
func (e *Edge) ShareSessionTickets(secret []byte) error {
	return e.tls.ShareTickets(secret)
}

// loadTLS reads cfg's certificates without serving them; nil when cfg has
// no TLS.
func loadTLS(t *tlsfront.Side, cfg Config) (*tlscert.Certs, error) {
	if len(cfg.TLSListen) == 0 {
		return nil, nil
	}
	var hosts []string
	for _, a := range cfg.TLSListen {
		if h, _, err := net.SplitHostPort(a); err == nil {
			hosts = append(hosts, h)
		}
	}
	return t.Load(tlsSites(cfg), tlscert.Options{CADir: cfg.TLSDir, Hosts: hosts})
}

// useTLS makes cfg's certificates (from loadTLS) and settings current.
func useTLS(t *tlsfront.Side, cfg Config, certs *tlscert.Certs) {
	f := &tlsfront.Settings{MaxHead: int(cfg.MaxHeaderSize)}
	if v := cfg.HSTS.header(); v != "" {
		f.HSTS = []string{v}
	}
	if cfg.TLSRedirect && len(cfg.TLSListen) > 0 {
		_, f.RedirectPort, _ = net.SplitHostPort(cfg.TLSListen[0])
	}
	t.Use(certs, f)
}

// tlsSites is what cfg gives the certificate manager: edge.tls is the
// default certificate and the one of every server without its own; a
// server with its own tls is chosen by its names (and is the default one
// if it is the default server).
func tlsSites(cfg Config) []tlscert.Site {
	var own []tlscert.Site
	var inherit []string
	for i, s := range cfg.ServerTLS() {
		if s.TLS.IsZero() {
			inherit = append(inherit, s.Names...)
			continue
		}
		own = append(own, tlscert.Site{Key: fmt.Sprintf("edge.servers[%d].tls", i), Names: s.Names, Default: s.Default, TLS: s.TLS})
	}
	if cfg.TLS.IsZero() {
		return own
	}
	// First, so that a default server with a certificate of its own wins.
	return append([]tlscert.Site{{Key: "edge.tls", Names: inherit, Default: true, TLS: cfg.TLS}}, own...)
}

// anyTLS reports whether cfg gives any server a certificate.
func (c *Config) anyTLS() bool {
	return !c.TLS.IsZero() || slices.ContainsFunc(c.Servers, func(s ServerConfig) bool { return !s.TLS.IsZero() })
}

// tlsFront does what TLS changes for a request before it is routed, and
// reports whether it answered it: a Host net/http would refuse as a header
// is refused (400) whichever way it came; on a TLS connection the request is
// marked as such (r.TLS, which gives X-Forwarded-Proto and HTTPS=on to the
// app) and gets the HSTS header, and an HTTP/2 head over max_header_size
// is refused as an HTTP/1.1 one is; a plain request is redirected to
// HTTPS when tls_redirect is on, if a server of st takes its Host (else
// it is misdirected, 421, as it would be over HTTPS: a redirect would
// send the client to any name it claimed).
func (e *Edge) tlsFront(st *state, w http.ResponseWriter, r *http.Request) bool {
	f := e.tls.Settings()
	if !tlsfront.ValidHost(r.Host) {
		// net/http refuses such a Host header over HTTP/1.1 ("malformed
		// Host header"), but not the host of an absolute-form target
		// (GET http://a<b>/), nor an HTTP/2 :authority: "a/x" or "a<b>"
		// would reach the app's absolute URLs and the redirect's Location.
		e.logger.Warn("edge: refusing request", "remote", r.RemoteAddr, "host", truncate(r.Host), "problem", "malformed Host", "status", http.StatusBadRequest)
		errpage.Write(w, http.StatusBadRequest)
		return true
	}
	if r.TLS == nil {
		if fc := framing.FromContext(r.Context()); fc != nil && fc.TLS() != nil {
			r.TLS = fc.TLS() // HTTP/1.1 over TLS: net/http saw only the framing tracker
		}
	}
	if r.TLS == nil {
		if port := f.RedirectPort; port != "" {
			s := st.router.route(r)
			if s == nil {
				e.logger.Info("edge: misdirected request: no server for this host", "remote", r.RemoteAddr, "host", truncate(r.Host), "status", http.StatusMisdirectedRequest)
				errpage.Write(w, http.StatusMisdirectedRequest)
				return true
			}
			if tlsfront.ForwardedHTTPS(r) && s.trust.TrustsClient(r) {
				return false // a trusted proxy took it over HTTPS: redirecting would loop
			}
			if port == "0" { // a free port, in tests: the one it got
				if a, ok := e.TLSAddrs()[0].(*net.TCPAddr); ok {
					port = strconv.Itoa(a.Port)
				}
			}
			tlsfront.Redirect(w, r, port)
			return true
		}
		return false
	}
	if f.HSTS != nil {
		w.Header()["Strict-Transport-Security"] = f.HSTS
	}
	if r.ProtoMajor >= 2 {
		if r.Host == "" {
			// Neither :authority nor Host: 400, as an HTTP/1.1 request
			// without Host gets from either front (and nginx).
			e.logger.Warn("edge: refusing request", "remote", r.RemoteAddr, "uri", truncate(r.RequestURI), "problem", "no :authority or Host", "status", http.StatusBadRequest)
			errpage.Write(w, http.StatusBadRequest)
			return true
		}
		if !tlsfront.ValidH2Target(r.RequestURI) {
			e.logger.Warn("edge: refusing request", "remote", r.RemoteAddr, "uri", truncate(r.RequestURI), "problem", "invalid :path (a space, or not an absolute path)", "status", http.StatusBadRequest)
			errpage.Write(w, http.StatusBadRequest)
			return true
		}
		if v := tlsfront.H2HeadVerdict(r, f.MaxHead); v != framing.OK {
			e.logger.Warn("edge: refusing request", "remote", r.RemoteAddr, "uri", truncate(accesslog.Target(r)), "problem", v.String(), "status", v.Status())
			errpage.Write(w, v.Status())
			return true
		}
	}
	return false
}
