// Package transport speaks to one upstream server, as Caddy's
// reverse_proxy transports do: each is an http.RoundTripper for one
// address. UwsgiTransport speaks uwsgi (with keep-alive to a server that
// offers it, pool.go), FastCGITransport FastCGI (PHP-FPM), and
// HTTPTransport wraps the stdlib's for http upstreams. The uwsgi and
// FastCGI responses are parsed by response.go, their bodies watch the
// client (watch.go) and a protocol switch hands the connection over
// (upgrade.go).
//
// It knows nothing of groups of servers: balancing, retries, passive
// health and in-flight caps are edge/upstream's Group, which reads the
// errors below to tell what may be retried and what the client is owed.
package transport

import (
	"errors"
	"net"
	"os"
)

// ErrHeadTooLarge: the request's variables do not fit the server's
// buffer (431).
var ErrHeadTooLarge = errors.New("request headers too large for the upstream's buffer_size")

// ErrNoResponse: the server closed the connection before a byte of its
// response. The request may or may not have been processed.
var ErrNoResponse = errors.New("upstream closed the connection without a response")

// TimeoutError is a read timeout: the server accepted the request but did
// not answer in time (504, not 502).
type TimeoutError struct{ Err error }

func (e *TimeoutError) Error() string { return "upstream timed out: " + e.Err.Error() }
func (e *TimeoutError) Unwrap() error { return e.Err }

// DialError: no connection could be made; nothing was sent, so another
// server may be tried.
type DialError struct{ Err error }

func (e *DialError) Error() string { return e.Err.Error() }
func (e *DialError) Unwrap() error { return e.Err }

// IsTimeout reports whether err is a deadline's or a timeout's.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
