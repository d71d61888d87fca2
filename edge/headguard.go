package edge

import (
	"log/slog"
	"net"
	"strings"
	"sync/atomic"

	"github.com/stack-web/stack/edge/internal/accesslog"
	"github.com/stack-web/stack/edge/internal/locmetrics"
)

// headGuard enforces max_header_size on request heads exactly, as nginx's
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
type headGuard struct {
	maxHead atomic.Int64 // max_header_size: request line and header, line ends included
	access  atomic.Pointer[accesslog.Log]
	// refused counts the heads net/http refuses (location "none"), set by
	// Instrument: clients saw those answers, so the metrics count them.
	refused atomic.Pointer[locmetrics.Location]
	logger  *slog.Logger
}

func newHeadGuard(logger *slog.Logger) *headGuard {
	return &headGuard{logger: logger}
}

// set applies a configuration's limit and access log (nil: off), for the
// heads that complete from now on.
func (g *headGuard) set(maxHead ByteSize, access *accesslog.Log) {
	g.maxHead.Store(int64(maxHead))
	g.access.Store(access)
}

// Limits returns the head limit and the request line limit, a quarter of it.
func (g *headGuard) Limits() (head, line int) {
	h := int(g.maxHead.Load())
	return h, h / 4
}

// serverMaxHeaderBytes is what the servers are told: enough above the limit
// that the edge, not net/http, refuses the heads that are just over it.
func serverMaxHeaderBytes(maxHead ByteSize) int { return 2 * int(maxHead) }

// RefusedByServer logs a head the server refused itself (h1's, or
// net/http's seen by the tracker), in the log, the access log and the
// metrics: the client saw that answer.
func (g *headGuard) RefusedByServer(c net.Conn, requestLine string, status int, bodyBytes int64) {
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
