package config

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
)

// checkAdmin checks the admin section as the serving commands use it: its
// shapes (admin.Config.Validate), then on this machine the listener's
// host, and collisions with the edge's and the appserver's addresses.
func (f *File) checkAdmin(runs scope) []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if err := f.Admin.Validate(); err != nil {
		return unjoin(err)
	}
	if a := f.Admin.Listen; a != "" {
		if err := CheckListenAddr(a); err != nil {
			bad("admin.listen", "%v", err)
		}
		if runs.edge {
			for i, e := range f.Edge.Listen {
				if sameListenAddr(a, e) {
					bad("admin.listen", "%q collides with edge.listen[%d] %q; the second bind would fail", a, i, e)
				}
			}
			for i, e := range f.Edge.TLSListen {
				if sameListenAddr(a, e) {
					bad("admin.listen", "%q collides with edge.tls_listen[%d] %q; the second bind would fail", a, i, e)
				}
			}
		}
		if runs.appserver && sameListenAddr(a, f.Appserver.Listen) {
			bad("admin.listen", "%q collides with appserver.listen; the second bind would fail", a)
		}
	}
	if p := f.Admin.Socket; p != "" {
		if err := checkUnixPath(p); err != nil {
			bad("admin.socket", "%v", err)
		}
		if runs.appserver && strings.TrimPrefix(f.Appserver.Listen, "unix:") == p {
			bad("admin.socket", "%q is also appserver.listen's socket", p)
		}
		if dir := filepath.Dir(p); filepath.Clean(dir) != filepath.Clean(f.RunDir) {
			if err := checkCreatable(dir); err != nil {
				bad("admin.socket", "%v", err)
			}
		}
	}
	return errs
}

// exposedAdmin warns when admin.listen is reachable from other machines:
// it has no authentication, and /config and /status show the setup.
func (f *File) exposedAdmin(runs scope) string {
	if !runs.stack || f.Admin.Listen == "" {
		return ""
	}
	host, _, err := net.SplitHostPort(f.Admin.Listen)
	if err != nil {
		return ""
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() || host == "localhost" {
		return ""
	}
	return fmt.Sprintf("admin.listen %q is reachable from other machines and has no authentication: keep it on loopback (127.0.0.1:8001) or a private network", f.Admin.Listen)
}
