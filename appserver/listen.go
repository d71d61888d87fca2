package appserver

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

var errTooManyFiles = syscall.EMFILE

// umaskMu serialises the umask changes of Listen: the umask is per process.
var umaskMu sync.Mutex

// Listen opens the app server's socket. addr is "unix:PATH" for a Unix
// socket (the normal case: the uwsgi protocol has no authentication, so it
// belongs on a socket only the edge can reach) or "host:port" for TCP.
//
// A Unix socket is created with the given mode from the start (the umask is
// set around bind, so there is no window in which it has wider permissions,
// unlike chmod after listen). An existing socket file with no server behind
// it is a leftover of a crash and is replaced; one with a live server is an
// error, as is a path that is not a socket. Closing the listener removes the
// file.
func Listen(addr string, mode os.FileMode) (net.Listener, error) {
	path, ok := strings.CutPrefix(addr, "unix:")
	if !ok {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("appserver: listen on %s: %w", addr, err)
		}
		return l, nil
	}
	if path == "" {
		return nil, errors.New("appserver: listen: empty unix socket path")
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}

	umaskMu.Lock()
	old := syscall.Umask(int(^mode & 0o777))
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	umaskMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("appserver: listen on %s: %w", addr, err)
	}
	// The umask can only remove bits; chmod makes the mode exact even if a
	// filesystem applies its own defaults.
	if err := os.Chmod(path, mode&fs.ModePerm); err != nil {
		l.Close()
		return nil, fmt.Errorf("appserver: chmod %s: %w", path, err)
	}
	return l, nil
}

// removeStaleSocket removes path if it is a socket that nothing listens on.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("appserver: %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("appserver: %s exists and is not a socket; refusing to replace it (remove it or choose another appserver.listen)", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("appserver: %s: another server is already listening on it; stop it or choose another appserver.listen", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("appserver: %s: cannot tell whether a server is behind it: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("appserver: removing stale socket %s: %w", path, err)
	}
	return nil
}
