package upstream

import (
	"errors"
	"net"
	"time"

	"github.com/stack-web/stack/edge/upstream/transport"
)

// What the edge's metrics and the admin's status page read of a Group.

// Counter is what a Group counts its retries with (a Prometheus counter
// fits); the upstream package does not depend on a metrics library.
type Counter interface{ Inc() }

// SetRetryCounter makes the group count every attempt after a request's
// first (a retry to the next server or a new round) on c. Call it before
// the group serves.
func (u *Group) SetRetryCounter(c Counter) { u.retried = c }

func (u *Group) countRetry() {
	if u.retried != nil {
		u.retried.Inc()
	}
}

// ServerStatus is one server of a group and its passive health.
type ServerStatus struct {
	Address string `json:"address"`
	Weight  int    `json:"weight"`
	Backup  bool   `json:"backup,omitempty"`
	// Up is false while the server is out of rotation after max_fails.
	Up       bool  `json:"up"`
	Fails    int32 `json:"fails"`
	InFlight int64 `json:"in_flight,omitempty"` // counted with least_conn only
}

// Servers returns the group's servers and their health now.
func (u *Group) Servers() []ServerStatus {
	now := time.Now().UnixNano()
	out := make([]ServerStatus, len(u.servers))
	for i, s := range u.servers {
		d := s.downUntil.Load()
		out[i] = ServerStatus{Address: s.addr, Weight: s.weight, Backup: s.backup, Up: d == 0 || now >= d,
			Fails: s.fails.Load(), InFlight: s.active.Load()}
	}
	return out
}

// Protocol is the group's protocol (uwsgi, http).
func (u *Group) Protocol() string { return u.cfg.Protocol }

// ErrorKind names the kind of a RoundTrip error, for the metrics:
// connect (no connection), timeout, busy (listen queues full),
// header_too_large, reset (closed or reset before or while answering), or
// invalid (a response the edge refused).
func ErrorKind(err error) string {
	var te *transport.TimeoutError
	var de *transport.DialError
	var be *busyError
	var ne net.Error
	switch {
	case errors.Is(err, transport.ErrHeadTooLarge):
		return "header_too_large"
	case errors.As(err, &be):
		return "busy"
	case errors.As(err, &te), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &de):
		return "connect"
	case beforeResponse(err):
		return "reset"
	}
	return "invalid"
}
