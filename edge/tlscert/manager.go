package tlscert

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stack-web/stack/edge/internal/hostmatch"
)

// Site is one server's names and how it gets its certificate. Names are
// exact host names ("example.com") or one leading wildcard label
// ("*.example.com"), as edge.servers writes them.
type Site struct {
	// Key is the site's place in stack.yaml ("edge.tls",
	// "edge.servers[1].tls"), named in errors and logs.
	Key   string
	Names []string
	// Default marks the site that answers a client that sent no server
	// name, or one no site has; without one, the first site does.
	Default bool
	TLS     Config
}

// Options are the settings shared by every site.
type Options struct {
	// CADir holds the internal CA's ca.crt and ca.key (run_dir/tls); used
	// only when a site is "internal".
	CADir string
	// Hosts are the names and addresses every internal certificate covers
	// besides its site's own names: the tls_listen hosts. localhost,
	// 127.0.0.1 and ::1 are always covered.
	Hosts []string
	// LeafLifetime is how long an internal certificate is valid; 0 is 7
	// days. It is reissued once two thirds of that have passed.
	LeafLifetime time.Duration
}

// Manager holds the certificates the edge serves and picks one per
// handshake by SNI. Its set is replaced whole (Load, then Use), so a
// handshake sees either the old certificates or the new ones, never a mix.
type Manager struct {
	logger *slog.Logger
	cur    atomic.Pointer[Certs]
}

// NewManager returns a Manager with no certificates: every handshake
// fails until Use.
func NewManager(logger *slog.Logger) *Manager {
	return &Manager{logger: logger}
}

// Certs is a loaded set of certificates, ready to be used.
type Certs struct {
	// names chooses as the edge chooses a server by Host, so that the SNI
	// and the Host naming one server agree.
	names hostmatch.Table[*entry]
	def   *entry
	all   []*entry
	cas   []string // the internal CA files the sites use, for the log
}

// entry is one site's certificate.
type entry struct {
	key  string
	cert atomic.Pointer[tls.Certificate]
	leaf *leafIssuer // internal: renews cert when it nears its end
}

var errNoCertificate = errors.New("tls: no certificate configured")

// Load reads every site's certificate (or issues it from the internal CA)
// without changing what is served. An error names the site's key and the
// file; an expired or not yet valid certificate is only warned about,
// since refusing to start is worse than a browser warning.
func (m *Manager) Load(sites []Site, opts Options) (*Certs, error) {
	if opts.LeafLifetime <= 0 {
		opts.LeafLifetime = 7 * 24 * time.Hour
	}
	c := &Certs{}
	var ca *authority
	for _, s := range sites {
		if s.TLS.IsZero() {
			continue
		}
		e := &entry{key: s.Key}
		switch {
		case s.TLS.Internal:
			if ca == nil {
				var err error
				if ca, err = loadOrCreateCA(opts.CADir, m.logger); err != nil {
					return nil, fmt.Errorf("%s: internal: %w", s.Key, err)
				}
				c.cas = append(c.cas, ca.certFile)
			}
			names := leafNames(s.Names, opts.Hosts)
			e.leaf = &leafIssuer{ca: ca, names: names, lifetime: opts.LeafLifetime}
			if old := m.internalFor(ca, names); old != nil {
				e.leaf.reuse(old) // a reload keeps a certificate clients already saw
			}
			cert, err := e.leaf.current(time.Now())
			if err != nil {
				return nil, fmt.Errorf("%s: internal: %w", s.Key, err)
			}
			e.cert.Store(cert)
		default:
			cert, err := loadPair(s.Key, s.TLS)
			if err != nil {
				return nil, err
			}
			m.warnValidity(s, cert.Leaf)
			e.cert.Store(cert)
		}
		if s.Default {
			c.def = e
		}
		for _, n := range s.Names {
			if err := c.names.Add(n, e); err != nil {
				return nil, fmt.Errorf("%s: name %q: %w", s.Key, n, err)
			}
		}
		if c.def == nil {
			c.def = e // the first site with TLS, unless one says default
		}
		c.all = append(c.all, e)
	}
	if c.def == nil {
		return nil, errNoCertificate
	}
	c.names.SetDefault(c.def)
	return c, nil
}

// Use makes c the set that handshakes choose from.
func (m *Manager) Use(c *Certs) {
	m.cur.Store(c)
	for _, f := range c.cas {
		m.logger.Info("tls: internal CA in use; trust it to reach the edge over HTTPS, e.g. curl --cacert "+f, "ca", f)
	}
}

// Reload loads sites and uses them; on error the current certificates
// stay.
func (m *Manager) Reload(sites []Site, opts Options) error {
	c, err := m.Load(sites, opts)
	if err != nil {
		return err
	}
	m.Use(c)
	return nil
}

// GetCertificate is tls.Config.GetCertificate: the site whose name is the
// SNI name, else the wildcard site of its parent domain, else the default.
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	c := m.cur.Load()
	if c == nil {
		return nil, errNoCertificate
	}
	e := c.choose(hello.ServerName)
	if e.leaf != nil {
		cert, err := e.leaf.current(time.Now())
		if err != nil {
			m.logger.Error("tls: renewing the internal certificate", "site", e.key, "err", err)
		} else if cert != e.cert.Load() {
			e.cert.Store(cert)
		}
	}
	return e.cert.Load(), nil
}

// choose returns the entry for an SNI name: the exact name, else the
// longest wildcard (*.example.com covers a.example.com and, as in nginx's
// server_name, a.b.example.com), else the default.
func (c *Certs) choose(serverName string) *entry {
	e, _ := c.names.Lookup(serverName)
	return e
}

// TLSConfig is the configuration of the edge's TLS listeners: HTTP/2 and
// HTTP/1.1 by ALPN, TLS 1.2 and later, certificates from m.
func (m *Manager) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: m.GetCertificate,
	}
}

// internalFor returns the current certificate issued by ca for exactly
// names, if any.
func (m *Manager) internalFor(ca *authority, names []string) *leafIssuer {
	c := m.cur.Load()
	if c == nil {
		return nil
	}
	for _, e := range c.all {
		if e.leaf != nil && e.leaf.sameAs(ca, names) {
			return e.leaf
		}
	}
	return nil
}

// loadPair reads a certificate and key file pair.
func loadPair(key string, c Config) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("%s: cert_file %s, key_file %s: %w", key, c.CertFile, c.KeyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("%s: cert_file %s: %w", key, c.CertFile, err)
		}
	}
	return &cert, nil
}

// Check reads c's files as Load would, for `stack check`.
func (c Config) Check(key string) error {
	if c.Internal || c.IsZero() || c.CertFile == "" || c.KeyFile == "" {
		return nil
	}
	_, err := loadPair(key, c)
	return err
}

func (m *Manager) warnValidity(s Site, leaf *x509.Certificate) {
	now := time.Now()
	switch {
	case now.After(leaf.NotAfter):
		m.logger.Warn("tls: certificate has expired; clients will refuse it", "site", s.Key, "cert_file", s.TLS.CertFile, "not_after", leaf.NotAfter)
	case now.Before(leaf.NotBefore):
		m.logger.Warn("tls: certificate is not valid yet", "site", s.Key, "cert_file", s.TLS.CertFile, "not_before", leaf.NotBefore)
	}
	for _, n := range s.Names {
		if strings.HasPrefix(n, "*.") {
			continue
		}
		if err := leaf.VerifyHostname(n); err != nil {
			m.logger.Warn("tls: certificate does not cover a name of its site", "site", s.Key, "cert_file", s.TLS.CertFile, "name", n)
		}
	}
}

// leafIssuer holds an internal certificate and reissues it from its CA
// when two thirds of its life have passed.
type leafIssuer struct {
	ca       *authority
	names    []string
	lifetime time.Duration

	mu     sync.Mutex
	cert   *tls.Certificate
	expiry time.Time // the time to reissue
}

func (l *leafIssuer) sameAs(ca *authority, names []string) bool {
	if l.ca.certFile != ca.certFile || !l.ca.cert.Equal(ca.cert) || len(l.names) != len(names) {
		return false
	}
	for i := range names {
		if l.names[i] != names[i] {
			return false
		}
	}
	return true
}

func (l *leafIssuer) reuse(old *leafIssuer) {
	old.mu.Lock()
	defer old.mu.Unlock()
	l.cert, l.expiry = old.cert, old.expiry
}

// current returns the certificate, issuing a new one if it is due.
func (l *leafIssuer) current(now time.Time) (*tls.Certificate, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cert != nil && now.Before(l.expiry) {
		return l.cert, nil
	}
	cert, err := l.ca.issue(l.names, now, l.lifetime)
	if err != nil {
		if l.cert != nil {
			return l.cert, err
		}
		return nil, err
	}
	l.cert, l.expiry = cert, now.Add(l.lifetime*2/3)
	return cert, nil
}
