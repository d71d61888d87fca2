package appserver

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strings"
	"time"

	"github.com/stack-web/stack/uwsgi"
)

// Config is the appserver's section of stack.yaml.
type Config struct {
	// Listen is "unix:PATH" (normal) or "host:port".
	Listen string `yaml:"listen"`
	// SocketMode is the Unix socket's permission bits; the edge's user
	// needs write permission to connect.
	SocketMode fs.FileMode `yaml:"socket_mode"`
	// BufferSize is the largest uwsgi vars block accepted (uWSGI's buffer-size).
	BufferSize int `yaml:"buffer_size"`
	// App names the app to serve, from the registry built into the binary.
	App string `yaml:"app"`
	// Processes is the number of worker processes; 0 serves from the
	// appserver's own process.
	Processes int `yaml:"processes"`
	// Threads bounds concurrent requests per process; 0 means no bound.
	Threads int `yaml:"threads"`
	// Harakiri is the longest a request may run; 0 disables it.
	Harakiri time.Duration `yaml:"harakiri"`
	// MaxRequests recycles a worker after this many requests; 0 never.
	MaxRequests int `yaml:"max_requests"`
	// SocketTimeout bounds each read and write on a uwsgi connection.
	SocketTimeout time.Duration `yaml:"socket_timeout"`
}

// DefaultConfig returns the appserver's defaults.
func DefaultConfig() Config {
	return Config{
		Listen:        "unix:run/app.sock",
		SocketMode:    0o660,
		BufferSize:    uwsgi.DefaultBufferSize,
		App:           "polls",
		Harakiri:      30 * time.Second,
		SocketTimeout: 4 * time.Second,
	}
}

// Validate reports every problem in c, each naming its key under "appserver.".
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("appserver.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if path, ok := strings.CutPrefix(c.Listen, "unix:"); ok {
		if path == "" {
			bad("listen", "empty socket path; use e.g. unix:run/app.sock")
		}
	} else if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "%q is neither unix:PATH nor host:port", c.Listen)
	}
	if c.SocketMode&^fs.ModePerm != 0 {
		bad("socket_mode", "%#o has bits beyond the permission bits; use e.g. \"0660\"", uint32(c.SocketMode))
	} else if c.SocketMode&0o200 == 0 {
		bad("socket_mode", "%#o does not let the owner write, so nobody could connect; use e.g. \"0660\"", uint32(c.SocketMode))
	}
	if c.BufferSize < 512 || c.BufferSize > uwsgi.MaxBufferSize {
		bad("buffer_size", "%d is outside 512..65535 (uWSGI's default is 4096)", c.BufferSize)
	}
	if c.App == "" {
		bad("app", "empty; name a built-in app such as polls, hello or echo")
	}
	switch {
	case c.Processes < 0:
		bad("processes", "must be 0 (serve in the appserver's process) or more")
	case c.Processes > 0:
		bad("processes", "worker processes are not implemented yet; use 0 (the appserver serves from its own process)")
	}
	if c.Threads < 0 {
		bad("threads", "must be 0 (no limit) or more")
	}
	if c.Harakiri < 0 {
		bad("harakiri", "must be 0 (off) or a positive duration such as 30s")
	}
	if c.MaxRequests < 0 {
		bad("max_requests", "must be 0 (never recycle) or more")
	} else if c.MaxRequests > 0 && c.Processes == 0 {
		bad("max_requests", "recycles worker processes, so it needs processes > 0; use 0")
	}
	if c.SocketTimeout <= 0 {
		bad("socket_timeout", "must be a positive duration such as 4s")
	}
	return errors.Join(errs...)
}
