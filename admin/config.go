package admin

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Config is the admin section of stack.yaml.
type Config struct {
	// Listen is the admin HTTP listener, host:port (metrics, health,
	// status, config); "" turns it off. Keep it on loopback or a private
	// network: it has no authentication.
	Listen string `yaml:"listen"`
	// Socket is the control socket's path (the same endpoints, plus
	// reload and scaling), made mode 0600: the file mode is the
	// authentication. "" turns it off. Relative paths follow run_dir
	// unless given.
	Socket string `yaml:"socket"`
	// AllowedHosts are the names, besides localhost, IP addresses and
	// Listen's own host, that the TCP listener answers in a Host header
	// (Django's ALLOWED_HOSTS: ".example.com" takes a domain and its
	// subdomains, "*" any name); a request naming another gets 400, so
	// that a DNS-rebinding page cannot read it (hostguard.go).
	AllowedHosts []string `yaml:"allowed_hosts"`
}

// DefaultConfig is admin's built-in configuration (Socket is
// config.File's run_dir-relative default, filled in by config).
func DefaultConfig() Config {
	return Config{Listen: "127.0.0.1:8001", Socket: "run/admin.sock"}
}

// Validate checks the values' shapes, naming the key.
func (c Config) Validate() error {
	var errs []error
	if c.Listen != "" {
		host, port, err := net.SplitHostPort(c.Listen)
		switch {
		case strings.HasPrefix(c.Listen, "unix:"):
			errs = append(errs, fmt.Errorf("admin.listen: %q: a TCP host:port; the Unix socket is admin.socket", c.Listen))
		case err != nil:
			errs = append(errs, fmt.Errorf("admin.listen: %q is not host:port (e.g. 127.0.0.1:8001; \"\" turns it off)", c.Listen))
		default:
			if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
				errs = append(errs, fmt.Errorf("admin.listen: %q: the port must be a number from 0 to 65535", c.Listen))
			}
			_ = host
		}
	}
	for i, n := range c.AllowedHosts {
		if n != "*" && !allowedHostName(n) {
			errs = append(errs, fmt.Errorf("admin.allowed_hosts[%d]: %q is not a host name (a name such as metrics.internal, .example.com for a domain and its subdomains, or *; no port)", i, n))
		}
	}
	if c.Socket != "" {
		if len(c.Socket) > 107 {
			errs = append(errs, fmt.Errorf("admin.socket: %q is %d bytes; a Unix socket path is at most 107", c.Socket, len(c.Socket)))
		}
		if strings.IndexByte(c.Socket, 0) >= 0 {
			errs = append(errs, fmt.Errorf("admin.socket: the path contains a NUL byte"))
		}
	}
	return errors.Join(errs...)
}

// allowedHostName reports whether n is a name admin.allowed_hosts can
// hold: dot-separated labels of ASCII letters, digits, '-' and '_', with
// a leading dot for a domain and its subdomains (Django's form) and an
// IPv4 address as a name; no empty label (".." matched Hosts no client
// sends), no port, no IPv6 literal (an IP address is taken anyway).
func allowedHostName(n string) bool {
	n = strings.TrimPrefix(n, ".")
	if n == "" || len(n) > 253 {
		return false
	}
	for label := range strings.SplitSeq(n, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
