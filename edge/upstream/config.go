package upstream

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/stack-web/stack/edge/upstream/transport"
	"github.com/stack-web/stack/uwsgi"
)

// Config is an upstream: a group of interchangeable servers, the entry
// edge.upstreams.NAME of stack.yaml. Its zero value is not valid; start from
// Default. Field names in messages are the YAML keys.
type Config struct {
	// Protocol is uwsgi, fastcgi or http.
	Protocol string `yaml:"protocol"`
	// Servers are "unix:PATH" or "host:port", each optionally followed by
	// nginx's server parameters: "unix:run/b.sock weight=2", "10.0.0.3:3031
	// backup". Several are balanced as Balance says.
	Servers []string `yaml:"servers"`
	// Balance is round_robin (weighted, nginx's default), least_conn or
	// ip_hash.
	Balance string `yaml:"balance"`
	// Retries is how many more times a request that failed before any byte
	// of a response is tried, on the next server or, with one server, on
	// the same one after RetryTimeout. Only GET, HEAD, OPTIONS, PUT and
	// DELETE are re-sent; a request that could not connect was not sent
	// and goes to the next server whatever its method.
	Retries int `yaml:"retries"`
	// RetryTimeout is the pause before a server is tried again.
	RetryTimeout time.Duration `yaml:"retry_timeout"`
	// ConnectTimeout: no connection within this → 502 (and the next server is tried).
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// ReadTimeout: no response header within this, or a pause this long
	// in the response body → 504 (nginx's uwsgi_read_timeout).
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// SendTimeout bounds each write of the request to the server.
	SendTimeout time.Duration `yaml:"send_timeout"`
	// BufferSize is the largest uwsgi vars block the servers accept (their
	// buffer_size). A request whose headers need more gets 431 here rather
	// than a dropped connection there.
	BufferSize int `yaml:"buffer_size"`
	// MaxFails failed connections within FailTimeout take a server out of
	// rotation for FailTimeout (nginx's max_fails/fail_timeout); 0 disables.
	MaxFails int `yaml:"max_fails"`
	// FailTimeout, see MaxFails.
	FailTimeout time.Duration `yaml:"fail_timeout"`
	// KeepAlive is how many idle connections to each server are kept for
	// reuse (nginx's keepalive); 0 opens a connection per request. Over
	// uwsgi only a server that offers it (this project's appserver) has
	// its connections kept; a real uWSGI closes each one, as always.
	KeepAlive int `yaml:"keepalive"`
	// KeepAliveTimeout closes a kept connection idle this long (nginx's
	// keepalive_timeout). The appserver keeps an idle one 75s, so the edge
	// ends it first.
	KeepAliveTimeout time.Duration `yaml:"keepalive_timeout"`
	// MaxInFlight caps the requests on each server's connections at once;
	// the others wait in the edge in arrival order (inflight.go). 0: no cap.
	MaxInFlight int `yaml:"max_in_flight"`
	// QueueTimeout, not a key, bounds that wait (503) when set, else
	// ReadTimeout does (504): the wiring sets it to the stack's own app
	// server's queue_timeout for the upstream that reaches it.
	QueueTimeout time.Duration `yaml:"-"`
	// Census, not a key, counts the answers of uwsgi servers on Unix
	// sockets (transport.Census); the edge sets it for all its upstreams.
	Census *transport.Census `yaml:"-"`

	// The keys of protocol: fastcgi (see fastcgi.go).

	// Root is the document root on the FastCGI server's machine:
	// DOCUMENT_ROOT, and SCRIPT_FILENAME is Root + the script name
	// (nginx's $document_root$fastcgi_script_name). PHP-FPM needs it; a
	// Go program on net/http/fcgi does without.
	Root string `yaml:"root"`
	// ScriptFilename, if set, is SCRIPT_FILENAME for every request (one
	// front controller, e.g. /srv/app/public/index.php).
	ScriptFilename string `yaml:"script_filename"`
	// Index is appended to a script name that ends in / (fastcgi_index).
	Index string `yaml:"index"`
	// SplitPathInfo is a regular expression with two groups, the script
	// name and PATH_INFO (fastcgi_split_path_info); "" turns it off.
	SplitPathInfo string `yaml:"split_path_info"`
	// CheckScript answers 404 at the edge when root + the script name is
	// not a regular file (nginx's try_files $fastcgi_script_name =404).
	CheckScript bool `yaml:"check_script"`
}

// Default returns the defaults of an upstream entry.
func Default() Config {
	return Config{
		Protocol:       "uwsgi",
		ConnectTimeout: 5 * time.Second,
		ReadTimeout:    60 * time.Second,
		SendTimeout:    60 * time.Second,
		BufferSize:     uwsgi.DefaultBufferSize,
		Balance:        "round_robin",
		Retries:        1,
		RetryTimeout:   100 * time.Millisecond,
		MaxFails:       1,
		FailTimeout:    10 * time.Second,
		// As many as the edge has requests in flight to a server under a
		// benchmark's 64 connections, so the pool rarely closes one.
		KeepAlive:        64,
		KeepAliveTimeout: 60 * time.Second,
		Index:            "index.php",
		SplitPathInfo:    DefaultSplitPathInfo,
		CheckScript:      true,
	}
}

// Validate reports every problem in c, each naming its key under key
// (edge.upstreams.NAME). It returns them one by one, for the caller to
// report with its own.
func (c Config) Validate(key string) []error {
	var errs []error
	bad := func(k, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", k, fmt.Sprintf(format, args...)))
	}
	switch c.Protocol {
	case "uwsgi", "http", "fastcgi":
	default:
		bad(key+".protocol", "%q is not one of uwsgi, fastcgi, http", c.Protocol)
	}
	errs = append(errs, c.validateFastCGI(key)...)
	errs = append(errs, c.validateInFlight(key)...)
	if len(c.Servers) == 0 {
		bad(key+".servers", `none; give at least one, e.g. ["unix:run/app.sock"]`)
	}
	if _, err := parseServers(c.Servers); err != nil {
		// parseServers' errors go on the key itself: "[2]: …", ": every
		// server is a backup" (a ": " between them doubled the colon).
		errs = append(errs, fmt.Errorf("%s.servers%w", key, err))
	}
	switch c.Balance {
	case "round_robin", "least_conn", "ip_hash":
	default:
		bad(key+".balance", "%q is not one of round_robin, least_conn, ip_hash", c.Balance)
	}
	if c.Retries < 0 {
		bad(key+".retries", "must be 0 (never retry) or more")
	}
	if c.RetryTimeout < 0 {
		bad(key+".retry_timeout", "must be a duration such as 100ms, or 0")
	}
	if c.ConnectTimeout <= 0 {
		bad(key+".connect_timeout", "must be a positive duration such as 5s")
	}
	if c.ReadTimeout <= 0 {
		bad(key+".read_timeout", "must be a positive duration such as 60s")
	}
	if c.SendTimeout <= 0 {
		bad(key+".send_timeout", "must be a positive duration such as 60s")
	}
	if c.BufferSize < 512 || c.BufferSize > uwsgi.MaxBufferSize {
		bad(key+".buffer_size", "%d is outside 512..65535", c.BufferSize)
	}
	if c.MaxFails < 0 {
		bad(key+".max_fails", "must be 0 (never mark a server down) or more")
	}
	if c.MaxFails > 0 && c.FailTimeout <= 0 {
		bad(key+".fail_timeout", "must be a positive duration when max_fails is set")
	}
	if c.KeepAlive < 0 {
		bad(key+".keepalive", "must be 0 (a connection per request) or more")
	}
	if c.KeepAlive > 0 && (c.KeepAliveTimeout <= 0 || c.KeepAliveTimeout > 70*time.Second) {
		bad(key+".keepalive_timeout", "must be a positive duration up to 70s (the appserver keeps an idle connection 75s)")
	}
	return errs
}

func checkServerAddr(s string) error {
	if path, ok := strings.CutPrefix(s, "unix:"); ok {
		if path == "" {
			return fmt.Errorf("%q has an empty socket path", s)
		}
		return nil
	}
	if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
		return fmt.Errorf("%q is neither unix:PATH nor host:port", s)
	}
	return nil
}
