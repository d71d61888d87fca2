package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stack-web/stack/edge"
)

// The checks in this file look at the machine, read-only, for what `up`
// would fail on when it binds, opens and dials: as `nginx -t` reports a
// bad port or a log it cannot open, `stack check` must.

// maxUnixPath is the longest Unix socket path Linux takes: sun_path holds
// 108 bytes with the terminating NUL.
const maxUnixPath = 107

// CheckRunDir says what PrepareRunDir would refuse: a run_dir that is not
// a directory, or that every user may write to, or a missing one that
// cannot be created.
func CheckRunDir(dir string) error {
	if dir == "" {
		return errors.New("empty; give a directory for sockets and data, e.g. run")
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return checkCreatable(dir)
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	case fi.Mode().Perm()&0o002 != 0:
		return fmt.Errorf("%s is writable by every user (mode %04o); give the stack a directory of its own, e.g. run", dir, fi.Mode().Perm())
	}
	if err := syscall.Access(dir, 0o3); err != nil { // W_OK|X_OK: sockets and tmp are created in it
		return fmt.Errorf("%s: %w (the stack creates its sockets and files in it)", dir, err)
	}
	// The edge buffers bodies in run_dir/tmp, created at start.
	if fi, err := os.Stat(filepath.Join(dir, "tmp")); err == nil && !fi.IsDir() {
		return fmt.Errorf("%s is not a directory (the edge keeps its temporary files there)", filepath.Join(dir, "tmp"))
	}
	return nil
}

// checkCreatable says whether MkdirAll(dir) can succeed: the nearest
// existing ancestor must be a directory this user may create entries in.
func checkCreatable(dir string) error {
	if target, err := os.Readlink(dir); err == nil {
		// mkdir does not follow a link to a missing directory.
		return fmt.Errorf("%s is a symbolic link to %s, which does not exist", dir, target)
	}
	for parent := filepath.Dir(dir); ; parent = filepath.Dir(parent) {
		fi, err := os.Stat(parent)
		if target, lerr := os.Readlink(parent); errors.Is(err, fs.ErrNotExist) && lerr == nil {
			return fmt.Errorf("cannot create %s: %s is a symbolic link to %s, which does not exist", dir, parent, target)
		}
		switch {
		case err == nil && !fi.IsDir():
			return fmt.Errorf("cannot create %s: %s is not a directory", dir, parent)
		case err == nil:
			if err := syscall.Access(parent, 0o3); err != nil { // W_OK|X_OK
				return fmt.Errorf("cannot create %s: directory %s: %w", dir, parent, err)
			}
			return nil
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("cannot create %s: %w", dir, err)
		}
		if parent == filepath.Dir(parent) {
			return nil
		}
	}
}

// CheckListenAddr checks a TCP address to listen on: host:port with a
// port from 0 (any free port, said explicitly) to 65535, and a host that
// is empty, an IP address or a name that resolves.
func CheckListenAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port (use 0.0.0.0:8000 for every interface)", addr)
	}
	if err := checkPort(addr, port); err != nil {
		return err
	}
	if err := checkPrivilegedPort(addr, port); err != nil {
		return err
	}
	return checkHost(addr, host, true)
}

// checkServerAddr checks an upstream server address (dialled later, so a
// name is not resolved now).
func checkServerAddr(addr string) error {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		return checkUnixPath(path)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is neither unix:PATH nor host:port", addr)
	}
	if err := checkPort(addr, port); err != nil {
		return err
	}
	if port == "0" {
		return fmt.Errorf("%q: port 0 cannot be dialled", addr)
	}
	return checkHost(addr, host, false)
}

func checkPort(addr, port string) error {
	if port == "" {
		return fmt.Errorf("%q has no port (an empty port listens on a random one); write it, e.g. :8000", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port %q is not a number from 1 to 65535", addr, port)
	}
	return nil
}

func checkHost(addr, host string, resolve bool) error {
	if host == "" {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if resolve && !ip.IsUnspecified() {
			return checkLocal(addr, host)
		}
		return nil
	}
	if strings.Trim(host, "0123456789.") == "" {
		return fmt.Errorf("%q: %q is not an IP address", addr, host)
	}
	if strings.ContainsAny(host, " /:%") {
		return fmt.Errorf("%q: %q is not a host name", addr, host)
	}
	if !resolve {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := net.DefaultResolver.LookupHost(ctx, host); err != nil {
		return fmt.Errorf("%q: host %q does not resolve: %v", addr, host, err)
	}
	return checkLocal(addr, host)
}

// checkLocal says whether this machine can listen on host: an address
// that is not one of its own (10.1.2.3 after a move, fe80::1 without its
// zone) fails to bind. It binds port 0 (a free port, closed at once), so
// the configured port is not touched and the kernel's own rules decide.
//
// The probe is plain TCP: Go listens with MPTCP by default, and a
// process's first MPTCP socket also probes the kernel's support for it,
// ~0.5 ms before the release and the first worker's socket, for a socket
// closed at once.
func checkLocal(addr, host string) error {
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	l, err := lc.Listen(context.Background(), "tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		var se *os.SyscallError
		if errors.As(err, &se) {
			err = se.Err
		}
		return fmt.Errorf("%q: cannot listen on %s on this machine: %v", addr, host, err)
	}
	return l.Close()
}

func checkUnixPath(path string) error {
	if path == "" {
		return errors.New("empty socket path; use e.g. unix:run/app.sock")
	}
	if strings.ContainsRune(path, 0) {
		return fmt.Errorf("socket path %q contains a NUL byte", path)
	}
	if len(path) > maxUnixPath {
		return fmt.Errorf("socket path %q is %d bytes, longer than the %d a Unix socket takes; use a shorter run_dir", path, len(path), maxUnixPath)
	}
	return nil
}

// sameListenAddr reports whether two TCP listen addresses would collide:
// the same port on the same host, or on a wildcard host (port 0 never).
func sameListenAddr(a, b string) bool {
	ha, pa, err1 := net.SplitHostPort(a)
	hb, pb, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil || pa != pb || pa == "0" || pa == "" {
		return false
	}
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || wild(ha) || wild(hb)
}

// checkEdgePlaces checks the edge's addresses and paths on this machine.
func (f *File) checkEdgePlaces() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	for i, a := range f.Edge.Listen {
		if _, _, err := net.SplitHostPort(a); err != nil {
			continue // edge.Validate says so
		}
		if err := CheckListenAddr(a); err != nil {
			bad(fmt.Sprintf("edge.listen[%d]", i), "%v", err)
		}
		for j := range i {
			if sameListenAddr(f.Edge.Listen[j], a) {
				bad(fmt.Sprintf("edge.listen[%d]", i), "%q collides with edge.listen[%d] %q; the second bind would fail", a, j, f.Edge.Listen[j])
			}
		}
	}
	f.checkTLSListen(bad)
	switch f.Edge.AccessLog {
	case "", "off", "stderr", "stdout":
	default:
		if err := checkWritable(f.Edge.AccessLog); err != nil {
			bad("edge.access_log", "%v", err)
		}
	}
	f.Edge.EachLocation(func(key string, l edge.LocationConfig) {
		if l.Root == "" {
			return
		}
		if fi, err := os.Stat(l.Root); err != nil {
			bad("edge."+key+".root", "%v", err)
		} else if !fi.IsDir() {
			bad("edge."+key+".root", "%s is not a directory", l.Root)
		} else if d, err := os.Open(l.Root); err != nil { // the edge opens it at start
			bad("edge."+key+".root", "%v", err)
		} else {
			d.Close()
		}
	})
	for _, name := range sortedKeys(f.Edge.Upstreams) {
		for i, item := range f.Edge.Upstreams[name].Servers {
			// An item is "ADDRESS [weight=N] [backup]" (or several, as an
			// environment variable splits them); edge.Validate checks the
			// parameters, the addresses are checked here.
			for _, s := range strings.Fields(item) {
				if s == "backup" || strings.HasPrefix(s, "weight=") {
					continue
				}
				if !strings.HasPrefix(s, "unix:") {
					if _, _, err := net.SplitHostPort(s); err != nil {
						continue // edge.Validate says so
					}
				} else if strings.TrimPrefix(s, "unix:") == "" {
					continue
				}
				if err := checkServerAddr(s); err != nil {
					bad(fmt.Sprintf("edge.upstreams.%s.servers[%d]", name, i), "%v", err)
				}
			}
		}
	}
	return errs
}

// checkWritable says whether a log file can be opened for appending,
// without creating or changing it.
func checkWritable(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		dir := filepath.Dir(path)
		if err := syscall.Access(dir, 0o3); err != nil { // W_OK|X_OK: may create a file in it
			return fmt.Errorf("cannot create %s: directory %s: %w", path, dir, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("cannot open for appending: %w", err)
	}
	return w.Close()
}

// checkAppserverListen checks the app server's address on this machine.
func (f *File) checkAppserverListen() error {
	return f.checkSocketPlace(f.Appserver.Listen)
}

// checkStats checks the stats server's address on this machine, and that
// it is not an address the stack itself binds first: appserver.listen, or
// an edge.listen when the edge runs beside it.
func (f *File) checkStats(withEdge bool) error {
	a := f.Appserver.Stats
	if a == "" {
		return nil
	}
	if sameSocketAddr(a, f.Appserver.Listen) {
		return fmt.Errorf("%q is also appserver.listen; the second to bind would fail", a)
	}
	for i, l := range f.Edge.Listen {
		if withEdge && sameListenAddr(l, a) {
			return fmt.Errorf("%q is also edge.listen[%d]; the second to bind would fail", a, i)
		}
	}
	return f.checkSocketPlace(a)
}

// sameSocketAddr reports whether two listen addresses (unix:PATH or
// host:port) would collide.
func sameSocketAddr(a, b string) bool {
	pa, ua := strings.CutPrefix(a, "unix:")
	pb, ub := strings.CutPrefix(b, "unix:")
	switch {
	case ua && ub:
		return pa != "" && sameDir(pa, pb)
	case ua || ub:
		return false
	}
	return sameListenAddr(a, b)
}

// checkSocketPlace checks an address the appserver's master listens on
// (appserver.listen, appserver.stats) on this machine.
func (f *File) checkSocketPlace(addr string) error {
	path, ok := strings.CutPrefix(addr, "unix:")
	if !ok {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil // appserver.Validate says so
		}
		return CheckListenAddr(addr)
	}
	if path == "" {
		return nil
	}
	if err := checkUnixPath(path); err != nil {
		return err
	}
	// A socket file is replaced (a leftover of a crash); anything else
	// there is refused by appserver.Listen.
	if fi, err := os.Lstat(path); err == nil && fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket; the app server refuses to replace it (remove it or choose another path)", path)
	}
	// The socket's directory must exist, unless it is run_dir, which the
	// stack creates (CheckRunDir checks it).
	dir := filepath.Dir(path)
	if sameDir(dir, f.RunDir) {
		return nil
	}
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("socket directory %s: %w (only run_dir is created)", dir, err)
	} else if !fi.IsDir() {
		return fmt.Errorf("socket directory %s is not a directory", dir)
	}
	if err := syscall.Access(dir, 0o3); err != nil { // W_OK|X_OK: bind creates the socket file
		return fmt.Errorf("socket directory %s: %w", dir, err)
	}
	return nil
}

// sameDir reports whether a and b name the same directory (or file).
func sameDir(a, b string) bool {
	x, err1 := filepath.Abs(a)
	y, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && x == y
}
