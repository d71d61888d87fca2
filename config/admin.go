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
	if !runs.stack || !offLoopback(f.Admin.Listen) {
		return ""
	}
	return fmt.Sprintf("admin.listen %q is reachable from other machines and has no authentication: keep it on loopback (127.0.0.1:8001) or a private network", f.Admin.Listen)
}

// exposedStats warns when appserver.stats is reachable from other
// machines: as uWSGI's stats server, it answers anyone who connects with
// every worker's pid, requests and memory.
func (f *File) exposedStats(runs scope) string {
	if !runs.appserver || !offLoopback(f.Appserver.Stats) {
		return ""
	}
	return fmt.Sprintf("appserver.stats %q is reachable from other machines and has no authentication: keep it on loopback (127.0.0.1:9191) or a unix: socket", f.Appserver.Stats)
}

// openSocket warns when the app server's Unix socket lets every local
// user connect: a uwsgi packet says who the client is (REMOTE_ADDR), and
// whether it came over HTTPS, and the app believes it.
func (f *File) openSocket(runs scope) string {
	if !runs.appserver || !strings.HasPrefix(f.Appserver.Listen, "unix:") || f.Appserver.SocketMode&0o002 == 0 {
		return ""
	}
	return fmt.Sprintf("appserver.socket_mode %#o lets every local user connect to the app server and send requests that claim any client address or HTTPS: keep it 0660 and put the web server's user in the socket's group", uint32(f.Appserver.SocketMode))
}

// offLoopback reports whether addr, a host:port, is reachable from other
// machines ("" and unix: are not).
func offLoopback(addr string) bool {
	if strings.HasPrefix(addr, "unix:") {
		return false
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return !(err == nil && ip.IsLoopback() || host == "localhost")
}
