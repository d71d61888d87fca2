// Package tlscert gives the edge its certificates: files named in
// stack.yaml, reloaded on SIGHUP, or a local CA of the stack's own
// ("tls: internal", Caddy's tls internal), and the choice among them by
// SNI when several servers listen on one port.
package tlscert

import (
	"fmt"
	"strings"
)

// Config is how one server (edge.tls, or edge.servers[i].tls) gets its
// certificate. In stack.yaml it is the word "internal", or a mapping
// {cert_file: F, key_file: F}; the zero value means no TLS of its own.
type Config struct {
	// CertFile is a PEM file: the certificate, then its chain.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the PEM private key of CertFile's certificate.
	KeyFile string `yaml:"key_file"`
	// Internal issues a certificate from the stack's own CA under run_dir.
	Internal bool `yaml:"-"`
}

// UnmarshalScalar accepts the one-word form: "internal" (or "off").
func (c *Config) UnmarshalScalar(s string) error {
	switch strings.TrimSpace(s) {
	case "internal":
		*c = Config{Internal: true}
	case "off", "":
		*c = Config{}
	default:
		return fmt.Errorf("%q is not internal, off, or {cert_file: F, key_file: F}", s)
	}
	return nil
}

// MarshalScalar shows "internal" for the one-word form.
func (c Config) MarshalScalar() (string, bool) {
	switch {
	case c.Internal:
		return "internal", true
	case c.IsZero():
		return "off", true
	}
	return "", false
}

// IsZero reports whether c asks for no TLS.
func (c Config) IsZero() bool { return !c.Internal && c.CertFile == "" && c.KeyFile == "" }

// Validate reports what is wrong with c, each problem naming key.
func (c Config) Validate(key string) []error {
	if c.Internal || c.IsZero() {
		return nil
	}
	var errs []error
	if c.CertFile == "" {
		errs = append(errs, fmt.Errorf("%s.cert_file: missing; give the certificate's PEM file with key_file, or use tls: internal", key))
	}
	if c.KeyFile == "" {
		errs = append(errs, fmt.Errorf("%s.key_file: missing; give the private key's PEM file with cert_file, or use tls: internal", key))
	}
	return errs
}
