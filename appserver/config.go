package appserver

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/stack-web/stack/uwsgi"

	"github.com/stack-web/stack/appserver/internal/allow"
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
	// Processes is the number of worker processes a master runs behind
	// the one socket; 0 serves from the appserver's own process.
	Processes int `yaml:"processes"`
	// MinProcesses below Processes turns on cheaper mode: the master runs
	// this many and adds workers when all are busy; 0 means Processes.
	MinProcesses int `yaml:"min_processes"`
	// Threads bounds concurrent requests per process; 0 means no bound.
	Threads int `yaml:"threads"`
	// Harakiri is the longest a request may run; 0 disables it.
	Harakiri time.Duration `yaml:"harakiri"`
	// LogRequests logs one line per request (uWSGI's request logging),
	// with the edge's request id; off by default (see requestlog.go).
	LogRequests bool `yaml:"log_requests"`
	// MaxRequests recycles a worker after about this many requests
	// (plus up to 10% jitter); 0 never.
	MaxRequests int `yaml:"max_requests"`
	// ReloadOnRSS recycles a worker whose resident memory passes this many
	// MiB; 0 never.
	ReloadOnRSS int `yaml:"reload_on_rss"`
	// MaxLifetime recycles a worker after about this long (plus up to 10%
	// jitter); 0 never.
	MaxLifetime time.Duration `yaml:"max_lifetime"`
	// ListenBacklog is the socket's listen queue, capped by the kernel at
	// net.core.somaxconn.
	ListenBacklog int `yaml:"listen_backlog"`
	// QueueTimeout answers 503 (Retry-After: 1) to a request that waited
	// longer than this for a worker; 0 disables it.
	QueueTimeout time.Duration `yaml:"queue_timeout"`
	// WorkerReadyTimeout bounds a new worker's start; one that is not
	// ready by then is killed (and a reload stops).
	WorkerReadyTimeout time.Duration `yaml:"worker_ready_timeout"`
	// Stats is where the uWSGI-shaped JSON stats server listens
	// ("unix:PATH" or "host:port"); empty disables it.
	Stats string `yaml:"stats"`
	// User and Group are what the workers run as when the master starts as
	// root; empty keeps the master's.
	User  string `yaml:"user"`
	Group string `yaml:"group"`
	// SocketTimeout bounds each read and write on a uwsgi connection,
	// and each pause in a request body or response over http.
	SocketTimeout time.Duration `yaml:"socket_timeout"`
	// Protocol is what the socket speaks: uwsgi (the edge's and nginx's
	// uwsgi_pass), fastcgi (nginx's fastcgi_pass, on net/http/fcgi) or
	// http (HTTP/1.1 with keep-alive, on net/http).
	Protocol string `yaml:"protocol"`
	// Allow lists the client addresses and CIDR prefixes a TCP listen
	// takes connections from (nginx's allow), or "all". A listen that other
	// hosts can reach needs it: the uwsgi protocol has no authentication.
	Allow []string `yaml:"allow"`
}

// AllowPrefixes is Allow parsed, for Server.Allow: nil (no filter) when it
// is empty or holds "all". Call it on a validated Config.
func (c *Config) AllowPrefixes() []netip.Prefix {
	p, all, err := allow.Parse(c.Allow)
	if err != nil || all {
		return nil
	}
	return p
}

// DefaultConfig returns the appserver's defaults.
func DefaultConfig() Config {
	return Config{
		Listen:             "unix:run/app.sock",
		SocketMode:         0o660,
		BufferSize:         uwsgi.DefaultBufferSize,
		App:                "polls",
		Harakiri:           30 * time.Second,
		SocketTimeout:      4 * time.Second,
		ListenBacklog:      1024,
		WorkerReadyTimeout: 30 * time.Second,
		Protocol:           "uwsgi",
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
	if c.Processes < 0 {
		bad("processes", "must be 0 (serve in the appserver's process) or more (worker processes)")
	}
	switch {
	case c.MinProcesses < 0:
		bad("min_processes", "must be 0 (as many as processes) or more")
	case c.Processes >= 0 && c.MinProcesses > c.Processes:
		bad("min_processes", "%d is more than processes (%d); use at most processes", c.MinProcesses, c.Processes)
	}
	if c.Threads < 0 {
		bad("threads", "must be 0 (no limit) or more")
	}
	if c.Harakiri < 0 {
		bad("harakiri", "must be 0 (off) or a positive duration such as 30s")
	}
	workersOnly := func(key string, set bool) {
		if set && c.Processes == 0 {
			bad(key, "recycles worker processes, so it needs processes > 0; use 0")
		}
	}
	if c.MaxRequests < 0 {
		bad("max_requests", "must be 0 (never recycle) or more")
	}
	workersOnly("max_requests", c.MaxRequests > 0)
	if c.ReloadOnRSS < 0 {
		bad("reload_on_rss", "must be 0 (never) or a size in MiB such as 512")
	}
	workersOnly("reload_on_rss", c.ReloadOnRSS > 0)
	if c.MaxLifetime < 0 {
		bad("max_lifetime", "must be 0 (never) or a positive duration such as 1h")
	}
	workersOnly("max_lifetime", c.MaxLifetime > 0)
	if c.ListenBacklog < 1 || c.ListenBacklog > 65535 {
		bad("listen_backlog", "%d is outside 1..65535 (default 1024; the kernel caps it at net.core.somaxconn)", c.ListenBacklog)
	}
	if c.QueueTimeout < 0 {
		bad("queue_timeout", "must be 0 (off) or a positive duration such as 5s")
	}
	if c.WorkerReadyTimeout <= 0 {
		bad("worker_ready_timeout", "must be a positive duration such as 30s")
	}
	if c.Stats != "" {
		if path, ok := strings.CutPrefix(c.Stats, "unix:"); ok {
			if path == "" {
				bad("stats", "empty socket path; use e.g. unix:run/stats.sock")
			}
		} else if _, _, err := net.SplitHostPort(c.Stats); err != nil {
			bad("stats", "%q is neither unix:PATH nor host:port", c.Stats)
		}
		if c.Processes == 0 {
			bad("stats", "reports worker processes, so it needs processes > 0")
		}
	}
	if (c.User != "" || c.Group != "") && c.Processes == 0 {
		bad("user", "user and group apply to worker processes, so they need processes > 0")
	} else if c.Processes > 0 && (c.User != "" || c.Group != "") {
		// An unknown user or group, which Master.Serve would refuse, said
		// by `stack check` too. (Not the need for root: the workers, run as
		// that user, validate the same configuration.)
		if _, err := LookupCredential(c.User, c.Group); err != nil {
			errs = append(errs, err)
		}
	}
	if err := allow.Validate(c.Listen, c.Allow); err != nil {
		errs = append(errs, err)
	}
	if c.SocketTimeout <= 0 {
		bad("socket_timeout", "must be a positive duration such as 4s")
	}
	switch c.Protocol {
	case "uwsgi":
	case "fastcgi", "http":
		if c.QueueTimeout > 0 {
			bad("queue_timeout", "reads the edge's uwsgi variable STACK_REQUEST_START, so it needs protocol: uwsgi; use 0")
		}
	default:
		bad("protocol", "%q is not one of uwsgi, fastcgi, http", c.Protocol)
	}
	return errors.Join(errs...)
}
