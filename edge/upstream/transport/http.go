package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// HTTPTransport is the transport of one server of an http upstream: the
// stdlib's (newStdTransport), and it gives the response body the
// read_timeout that UwsgiTransport keeps: http.Transport bounds only the
// wait for the head (ResponseHeaderTimeout), so a server that stopped in
// the middle of its body held the client until it closed. A read that
// waits longer than timeout cancels the request, which makes the
// transport close that connection and the read fail; the response to the
// client is then aborted, as a truncated one is.
type HTTPTransport struct {
	rt      *http.Transport
	timeout time.Duration
	addr    string // the server, for messages
}

// HTTPConfig is what NewHTTPTransport needs: where the server is, and its
// upstream's timeouts and keep-alive.
type HTTPConfig struct {
	// Network and Address locate the server, as UwsgiTransport's.
	Network, Address string
	// Server is the server as configured ("unix:run/api.sock"), for
	// messages.
	Server string
	// ConnectTimeout, ReadTimeout, KeepAlive and KeepAliveTimeout as
	// UwsgiTransport's.
	ConnectTimeout, ReadTimeout time.Duration
	KeepAlive                   int
	KeepAliveTimeout            time.Duration
}

var _ http.RoundTripper = HTTPTransport{}

// NewHTTPTransport returns the transport of the server c names.
func NewHTTPTransport(c HTTPConfig) HTTPTransport {
	return HTTPTransport{rt: newStdTransport(c), timeout: c.ReadTimeout, addr: c.Server}
}

// newStdTransport is the stdlib transport, dialling one fixed server
// whatever the URL says, with keep-alive (nginx 1.29.7+ and Caddy keep
// upstream connections alive too).
func newStdTransport(c HTTPConfig) *http.Transport {
	d := &net.Dialer{Timeout: c.ConnectTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			conn, err := d.DialContext(ctx, c.Network, c.Address)
			if err != nil {
				return nil, &DialError{err}
			}
			return conn, nil
		},
		// The same bound as over uwsgi (nginx's proxy_buffer_size
		// answers 502 past it); net/http's own default is 10 MiB.
		MaxResponseHeaderBytes: maxResponseHead,
		MaxIdleConnsPerHost:    c.KeepAlive,
		IdleConnTimeout:        c.KeepAliveTimeout,
		DisableKeepAlives:      c.KeepAlive == 0,
		ResponseHeaderTimeout:  c.ReadTimeout,
		DisableCompression:     true,
		ForceAttemptHTTP2:      false,
	}
}

func (t HTTPTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	resp, err := t.rt.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel(nil)
		return nil, err
	}
	if rwc, ok := resp.Body.(io.ReadWriteCloser); ok && resp.StatusCode == http.StatusSwitchingProtocols {
		// The connection, switched: no read_timeout (the location's
		// websocket limits bound it), and it must stay writable.
		resp.Body = upgradedBody{rwc, cancel}
		return resp, nil
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		// The transport is done with the connection; the context can go.
		cancel(nil)
		return resp, nil
	}
	b := &timedBody{body: resp.Body, cancel: cancel, timeout: t.timeout, addr: t.addr}
	b.timer = time.AfterFunc(time.Hour, b.expire)
	b.timer.Stop()
	resp.Body = b
	return resp, nil
}

// errBodyPause cancels a request whose response body paused too long.
var errBodyPause = errors.New("response body paused longer than read_timeout")

// CloseIdleConnections releases the pool's idle connections.
func (t HTTPTransport) CloseIdleConnections() { t.rt.CloseIdleConnections() }

// timedBody runs its timer only while a Read waits on the server: a pause
// of the client (which reads at its own pace when buffering is off) is
// not the server's.
type timedBody struct {
	body    io.ReadCloser
	cancel  context.CancelCauseFunc
	timeout time.Duration
	addr    string
	timer   *time.Timer

	mu      sync.Mutex
	expired bool
}

func (b *timedBody) expire() {
	b.mu.Lock()
	b.expired = true
	b.mu.Unlock()
	b.cancel(errBodyPause)
}

func (b *timedBody) Read(p []byte) (int, error) {
	b.timer.Reset(b.timeout)
	n, err := b.body.Read(p)
	b.timer.Stop()
	b.mu.Lock()
	expired := b.expired
	b.mu.Unlock()
	if expired && err != nil {
		err = &TimeoutError{fmt.Errorf("reading the response body of %s: no data within read_timeout %v", b.addr, b.timeout)}
	}
	return n, err
}

func (b *timedBody) Close() error {
	b.timer.Stop()
	err := b.body.Close()
	b.cancel(nil)
	return err
}
