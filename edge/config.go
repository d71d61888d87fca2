package edge

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stack-web/stack/edge/compress"
	"github.com/stack-web/stack/edge/internal/proxytrust"
	"github.com/stack-web/stack/edge/limit"
	"github.com/stack-web/stack/edge/tlscert"
	"github.com/stack-web/stack/edge/upstream"
)

// Config is the edge's section of stack.yaml. Its zero value is not valid;
// start from DefaultConfig. Field names in messages are the YAML keys.
type Config struct {
	// Listen lists the TCP addresses to accept HTTP on.
	Listen []string `yaml:"listen"`
	// Processes is how many processes serve the edge (nginx's
	// worker_processes): above 1, `stack up` runs each in a child process
	// of its own, all accepting on the same sockets (processes.go).
	Processes int `yaml:"processes"`
	// ClientMaxBodySize is the largest request body accepted; larger → 413.
	ClientMaxBodySize ByteSize `yaml:"client_max_body_size"`
	// ClientBodyBufferSize is how much of a request body is held in memory
	// before the rest goes to a temporary file (nginx's client_body_buffer_size).
	ClientBodyBufferSize ByteSize `yaml:"client_body_buffer_size"`
	// MaxHeaderSize bounds the request line and header; larger → 431.
	MaxHeaderSize ByteSize `yaml:"max_header_size"`
	// ClientHeaderTimeout bounds reading a request's head.
	ClientHeaderTimeout time.Duration `yaml:"client_header_timeout"`
	// ClientBodyTimeout bounds each read of a request body (between reads, as nginx).
	ClientBodyTimeout time.Duration `yaml:"client_body_timeout"`
	// SendTimeout bounds each write to the client (between writes, as nginx).
	SendTimeout time.Duration `yaml:"send_timeout"`
	// KeepaliveTimeout is how long an idle client connection is kept open.
	KeepaliveTimeout time.Duration `yaml:"keepalive_timeout"`
	// LingeringTime bounds how long the rest of an unread request body is
	// read and dropped after an early answer (413, 400, 431…), so the
	// client reads the answer instead of a reset (nginx's lingering_time);
	// 0 turns lingering off.
	LingeringTime time.Duration `yaml:"lingering_time"`
	// LingeringTimeout is the longest pause allowed while lingering.
	LingeringTimeout time.Duration `yaml:"lingering_timeout"`
	// TrustedProxies lists the addresses or CIDR ranges whose
	// X-Forwarded-For, -Proto and -Host are kept; everyone else's are replaced.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// AccessLog is "off", "stderr", "stdout" or a file path.
	AccessLog string `yaml:"access_log"`
	// AccessLogFormat is "combined" (nginx's, plus the request time) or
	// "json" (one object per line; see edge/internal/accesslog).
	AccessLogFormat string `yaml:"access_log_format"`
	// Buffering reads upstream responses ahead of slow clients (nginx's
	// uwsgi_buffering); a location's own buffering overrides it.
	Buffering bool `yaml:"buffering"`
	// ResponseBufferSize is how much of an upstream's response is held in
	// memory while the client is slower than the app; the rest goes to a
	// temporary file (nginx's uwsgi_buffers).
	ResponseBufferSize ByteSize `yaml:"response_buffer_size"`
	// MaxTempFileSize bounds that file (nginx's uwsgi_max_temp_file_size);
	// past it, the response is passed at the client's pace. 0: no file.
	MaxTempFileSize ByteSize `yaml:"max_temp_file_size"`
	// Compression is gzip and zstd on the fly and precompressed static files (compression.go).
	Compression compress.Config `yaml:"compression"`
	// Locations route requests by path prefix; the longest match wins.
	// With Servers, they form the implicit default server (vhost.go).
	Locations []LocationConfig `yaml:"locations"`
	// Servers are virtual hosts, chosen by the request's Host (vhost.go).
	Servers []ServerConfig `yaml:"servers"`
	// Upstreams are the named groups of servers that locations proxy to.
	Upstreams map[string]upstream.Config `yaml:"upstreams"`
	// RateLimit is nginx's limit_req for every location without its own (limits.go).
	RateLimit *limit.RateConfig `yaml:"rate_limit"`
	// LimitConn is nginx's limit_conn for every location without its own (limits.go).
	LimitConn *limit.ConnConfig `yaml:"limit_conn"`
	// TLS is the certificate of the tls_listen addresses: "internal" or {cert_file, key_file} (tls.go).
	TLS tlscert.Config `yaml:"tls"`
	// TLSListen lists the TCP addresses to accept HTTPS on (HTTP/2 and HTTP/1.1 by ALPN).
	TLSListen []string `yaml:"tls_listen"`
	// TLSRedirect makes the listen addresses answer 308 to the same URL over HTTPS.
	TLSRedirect bool `yaml:"tls_redirect"`
	// HSTS is the Strict-Transport-Security header sent over TLS; off while max_age is 0.
	HSTS HSTSConfig `yaml:"hsts"`
	// TLSDir is where tls: internal keeps its CA; config sets it to run_dir/tls.
	TLSDir string `yaml:"-"`
}

// LocationConfig is one location: a path prefix served from a directory
// (Root) or proxied to an upstream (Upstream), exactly one of the two.
type LocationConfig struct {
	// Path is the URL path prefix, e.g. "/static/" or "/", or, written
	// "= /path" as in nginx, the one path the location serves (match.go).
	Path string `yaml:"path"`
	// Root is the directory that the rest of the path (after Path) maps
	// into: /static/polls/x.css with root "dir" serves dir/polls/x.css. (In
	// nginx terms this is alias, which is what a prefix location with a
	// directory of its own almost always wants.)
	Root string `yaml:"root"`
	// Upstream names an entry of upstreams.
	Upstream string `yaml:"upstream"`
	// Buffering overrides edge.buffering for this location; unset (null)
	// follows it. An app turns buffering off for one response with the
	// header X-Accel-Buffering: no.
	Buffering *bool `yaml:"buffering"`
	// Compression false turns edge.compression off for this location (compression.go).
	Compression *bool `yaml:"compression"`
	// Methods, if set, limits the location to these methods (GET implies
	// HEAD); another method falls through to the next location (match.go).
	Methods []string `yaml:"methods"`
	// Header, if set, limits the location to requests with this header.
	Header *HeaderMatch `yaml:"header"`
	// RateLimit overrides edge.rate_limit here; off exempts the location.
	RateLimit *limit.RateConfig `yaml:"rate_limit"`
	// LimitConn overrides edge.limit_conn here; off exempts the location.
	LimitConn *limit.ConnConfig `yaml:"limit_conn"`
	// Internal: reachable only through an upstream's X-Accel-Redirect (accel.go).
	Internal bool `yaml:"internal"`
	// WebSocket bounds the connections upgraded through this location.
	WebSocket WebSocketConfig `yaml:"websocket"`
}

// DefaultConfig returns the edge's defaults: nginx's, where nginx has one.
func DefaultConfig() Config {
	return Config{
		Listen:               []string{"127.0.0.1:8000"},
		Processes:            1,
		ClientMaxBodySize:    1 << 20,
		ClientBodyBufferSize: 64 << 10,
		MaxHeaderSize:        32 << 10,
		ClientHeaderTimeout:  60 * time.Second,
		ClientBodyTimeout:    60 * time.Second,
		SendTimeout:          60 * time.Second,
		KeepaliveTimeout:     75 * time.Second,
		LingeringTime:        30 * time.Second,
		LingeringTimeout:     5 * time.Second,
		AccessLog:            "off",
		AccessLogFormat:      "combined",
		Buffering:            true,
		ResponseBufferSize:   64 << 10,
		MaxTempFileSize:      1 << 30,
		Compression:          compress.DefaultConfig(),
	}
}

// Validate reports every problem in c, each naming its key under "edge.".
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("edge.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if len(c.Listen) == 0 {
		bad("listen", "no address; give at least one host:port, e.g. 127.0.0.1:8000")
	}
	for i, a := range c.Listen {
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad(fmt.Sprintf("listen[%d]", i), "%q is not host:port (use 0.0.0.0:8000 for every interface)", a)
		}
	}
	if c.ClientMaxBodySize <= 0 {
		bad("client_max_body_size", "must be positive, e.g. 1MiB")
	}
	errs = append(errs, c.validateProcesses()...)
	if c.ClientBodyBufferSize <= 0 {
		bad("client_body_buffer_size", "must be positive, e.g. 64KiB")
	}
	if c.MaxHeaderSize < 1024 {
		bad("max_header_size", "%v is too small to hold a request line; use at least 1KiB (default 32KiB)", c.MaxHeaderSize)
	}
	for key, d := range map[string]time.Duration{
		"client_header_timeout": c.ClientHeaderTimeout, "client_body_timeout": c.ClientBodyTimeout,
		"send_timeout": c.SendTimeout, "keepalive_timeout": c.KeepaliveTimeout,
	} {
		if d <= 0 {
			bad(key, "must be a positive duration such as 60s")
		}
	}
	if c.LingeringTime < 0 {
		bad("lingering_time", "must not be negative (0 turns lingering off; default 30s)")
	}
	if c.LingeringTime > 0 && c.LingeringTimeout <= 0 {
		bad("lingering_timeout", "must be a positive duration such as 5s while lingering_time is set")
	}
	for i, p := range c.TrustedProxies {
		if _, err := proxytrust.ParsePrefix(p); err != nil {
			bad(fmt.Sprintf("trusted_proxies[%d]", i), "%q is neither an IP address nor a CIDR range such as 10.0.0.0/8", p)
		}
	}
	switch c.AccessLog {
	case "":
		bad("access_log", `is empty; use "off", "stderr", "stdout" or a file path`)
	}
	switch c.AccessLogFormat {
	case "combined", "json":
	default:
		bad("access_log_format", "%q is not combined or json", c.AccessLogFormat)
	}
	if c.ResponseBufferSize <= 0 {
		bad("response_buffer_size", "must be positive, e.g. 64KiB")
	}
	if c.MaxTempFileSize < 0 {
		bad("max_temp_file_size", "must be 0 (no temporary file) or a size such as 1GiB")
	}

	c.validateSites(bad)
	c.validateLimits(bad)
	c.validateWebSocket(bad)
	c.validateCompression(bad)
	for _, name := range sortedKeys(c.Upstreams) {
		errs = append(errs, c.Upstreams[name].Validate("edge.upstreams."+name)...)
	}
	c.validateTLS(bad)
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// ByteSize is a size in bytes written as nginx and humans write sizes:
// 1048576, 512KiB, 1MiB, 1m, 2GB (K/M/G are binary, as in nginx).
type ByteSize int64

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1},
}

// ParseByteSize parses a size such as "1MiB".
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("invalid size %q: use a number of bytes with an optional unit, e.g. 1048576, 512KiB, 1MiB", s)
	}
	return ByteSize(n * mult), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// MarshalText implements encoding.TextMarshaler, in the largest exact unit.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

func (b ByteSize) String() string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b != 0 && int64(b)%u.mult == 0 {
			return strconv.FormatInt(int64(b)/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}
