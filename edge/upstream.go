package edge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Upstream is a named group of interchangeable servers. It is itself an
// http.RoundTripper: it picks a server round robin and, when a connection
// cannot be made (nothing was sent yet), tries the next one, as nginx's
// default `uwsgi_next_upstream error timeout` does. A server that fails
// MaxFails times is skipped for FailTimeout unless every server is down.
type Upstream struct {
	Name    string
	servers []*upstreamServer
	next    atomic.Uint32
	cfg     UpstreamConfig
}

type upstreamServer struct {
	addr      string // as configured, for logs
	rt        http.RoundTripper
	fails     atomic.Int32
	downUntil atomic.Int64 // unix nanoseconds; 0 when up
}

// NewUpstream builds the transports of an upstream's servers.
func NewUpstream(name string, cfg UpstreamConfig) (*Upstream, error) {
	u := &Upstream{Name: name, cfg: cfg}
	for _, addr := range cfg.Servers {
		network, address := "tcp", addr
		if p, ok := strings.CutPrefix(addr, "unix:"); ok {
			network, address = "unix", p
		}
		var rt http.RoundTripper
		switch cfg.Protocol {
		case "uwsgi":
			rt = &UwsgiTransport{Network: network, Address: address, ConnectTimeout: cfg.ConnectTimeout,
				ReadTimeout: cfg.ReadTimeout, SendTimeout: cfg.SendTimeout, BufferSize: cfg.BufferSize}
		case "http":
			rt = newHTTPTransport(network, address, cfg)
		default:
			return nil, fmt.Errorf("edge: upstream %s: protocol %q is not supported", name, cfg.Protocol)
		}
		u.servers = append(u.servers, &upstreamServer{addr: addr, rt: rt})
	}
	if len(u.servers) == 0 {
		return nil, fmt.Errorf("edge: upstream %s has no servers", name)
	}
	return u, nil
}

// newHTTPTransport is the stdlib transport, dialling one fixed server
// whatever the URL says, with keep-alive (nginx 1.29.7+ and Caddy keep
// upstream connections alive too).
func newHTTPTransport(network, address string, cfg UpstreamConfig) *http.Transport {
	d := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, address)
			if err != nil {
				return nil, &dialError{err}
			}
			return c, nil
		},
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       60 * time.Second,
		ResponseHeaderTimeout: cfg.ReadTimeout,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
	}
}

// RoundTrip sends req to one of the servers.
func (u *Upstream) RoundTrip(req *http.Request) (*http.Response, error) {
	n := len(u.servers)
	start := int(u.next.Add(1) - 1)
	var errs []error
	var now int64
	for i := 0; i < n; i++ {
		s := u.servers[(start+i)%n]
		if d := s.downUntil.Load(); d != 0 && i < n-1 {
			if now == 0 {
				now = time.Now().UnixNano()
			}
			if now < d {
				continue // marked down; but the last candidate is always tried
			}
		}
		resp, err := s.rt.RoundTrip(req)
		if err == nil {
			if s.fails.Load() != 0 {
				s.fails.Store(0)
				s.downUntil.Store(0)
			}
			return resp, nil
		}
		err = fmt.Errorf("upstream %s server %s: %w", u.Name, s.addr, err)
		var de *dialError
		if !errors.As(err, &de) || req.Context().Err() != nil {
			return nil, err
		}
		u.fail(s)
		errs = append(errs, err)
		if bb, ok := req.Body.(*bufferedBody); ok {
			bb.rewind()
		}
	}
	return nil, errors.Join(errs...)
}

func (u *Upstream) fail(s *upstreamServer) {
	if u.cfg.MaxFails <= 0 {
		return
	}
	if s.fails.Add(1) >= int32(u.cfg.MaxFails) {
		s.downUntil.Store(time.Now().Add(u.cfg.FailTimeout).UnixNano())
		s.fails.Store(0)
	}
}

// close releases idle connections of the http transports.
func (u *Upstream) close() {
	for _, s := range u.servers {
		if t, ok := s.rt.(*http.Transport); ok {
			t.CloseIdleConnections()
		}
	}
}
