// Package headguard holds the edge's limit on request heads
// (max_header_size) for the servers and the framing tracker, and logs,
// counts and access-logs the heads they refuse. It stands alone because it
// is that one limit, shared by the plain and TLS servers, and needs
// nothing of the edge but its access log and metrics.
package headguard

import (
	"log/slog"
	"net"
	"strings"
	"sync/atomic"

	"github.com/stack-web/stack/edge/internal/accesslog"
	"github.com/stack-web/stack/edge/internal/locmetrics"
)

// Guard enforces max_header_size on request heads exactly, as nginx's
// large_client_header_buffers do: net/http's MaxHeaderBytes lets through
// up to 4 KiB more than it is given, and answers 431 itself, unlogged. A
// head over the limit gets its verdict (431, or 414 for a request line over
// a quarter of the limit: nginx's 4 buffers of 8k, one of which must hold
// the request line), which the handler answers and logs: on plain
// connections from h1's parser, over TLS from the framing.Conn that counts
// every head's bytes. The servers are given twice the limit, so that only
// heads far over it are refused by the server itself; those refusals are
// logged too (RefusedByServer: h1 reports them, and framing.Conn sees
// net/http's answers go out, and turns a 431 for an over-long request line
// into 414; edge/internal/framing/refusal.go).
type Guard struct {
	maxHead atomic.Int64 // max_header_size: request line and header, line ends included
	access  atomic.Pointer[accesslog.Log]
	// refused counts the heads net/http refuses (location "none"), set by
	// SetRefused: clients saw those answers, so the metrics count them.
	refused atomic.Pointer[locmetrics.Location]
	logger  *slog.Logger
}

// New makes a Guard that logs to logger; Set gives it its limit.
func New(logger *slog.Logger) *Guard {
	return &Guard{logger: logger}
}

// Set applies a configuration's limit and access log (nil: off), for the
// heads that complete from now on.
func (g *Guard) Set(maxHead int64, access *accesslog.Log) {
	g.maxHead.Store(maxHead)
	g.access.Store(access)
}

// Limits returns the head limit and the request line limit, a quarter of it.
func (g *Guard) Limits() (head, line int) {
	h := int(g.maxHead.Load())
	return h, h / 4
}

// RefusedByServer logs a head the server refused itself (h1's, or
// net/http's seen by the tracker), in the log, the access log and the
// metrics: the client saw that answer.
func (g *Guard) RefusedByServer(c net.Conn, requestLine string, status int, bodyBytes int64) {
	requestLine = strings.TrimRight(requestLine, "\r\n")
	g.logger.Warn("edge: refusing request head", "remote", c.RemoteAddr().String(), "status", status, "request", truncate(requestLine))
	if access := g.access.Load(); access != nil {
		access.Refused(c.RemoteAddr().String(), requestLine, status, bodyBytes)
	}
	if lm := g.refused.Load(); lm != nil {
		method, _, _ := strings.Cut(requestLine, " ")
		lm.Count(method, status)
	}
}

// SetRefused sets the metrics that count the heads the server refused.
func (g *Guard) SetRefused(lm *locmetrics.Location) { g.refused.Store(lm) }

// truncate bounds what a log line quotes of a client's input.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}
