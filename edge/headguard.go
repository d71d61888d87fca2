package edge

import (
	"bytes"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
)

// headGuard enforces max_header_size on request heads exactly, as nginx's
// large_client_header_buffers do: net/http's MaxHeaderBytes lets through
// up to 4 KiB more than it is given, and answers 431 itself, unlogged. A
// head over the limit gets its verdict (431, or 414 for a request line over
// a quarter of the limit: nginx's 4 buffers of 8k, one of which must hold
// the request line), which the handler answers and logs: on plain
// connections from h1's parser, over TLS from the framingConn that counts
// every head's bytes. The servers are given twice the limit, so that only
// heads far over it are refused by the server itself; those refusals are
// logged too (refusedByServer: h1 reports them, and framingConn sees
// net/http's answers go out, and turns a 431 for an over-long request line
// into 414).
type headGuard struct {
	maxHead atomic.Int64 // max_header_size: request line and header, line ends included
	access  atomic.Pointer[accessLog]
	// refused counts the heads net/http refuses (location "none"), set by
	// Instrument: clients saw those answers, so the metrics count them.
	refused atomic.Pointer[locationMetrics]
	logger  *slog.Logger
}

func newHeadGuard(logger *slog.Logger) *headGuard {
	return &headGuard{logger: logger}
}

// set applies a configuration's limit and access log (nil: off), for the
// heads that complete from now on.
func (g *headGuard) set(maxHead ByteSize, access *accessLog) {
	g.maxHead.Store(int64(maxHead))
	g.access.Store(access)
}

// limits returns the head limit and the request line limit, a quarter of it.
func (g *headGuard) limits() (head, line int) {
	h := int(g.maxHead.Load())
	return h, h / 4
}

// serverMaxHeaderBytes is what the servers are told: enough above the limit
// that the edge, not net/http, refuses the heads that are just over it.
func serverMaxHeaderBytes(maxHead ByteSize) int { return 2 * int(maxHead) }

var (
	errorStatusPrefix = []byte("HTTP/1.1 ")
	dateHeader        = []byte("\r\nDate: ")
	headEnd           = []byte("\r\n\r\n")
	uriTooLong        = []byte("HTTP/1.1 414 Request-URI Too Long\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n414 Request-URI Too Long\n")
)

func (c *framingConn) Write(p []byte) (int, error) {
	if c.guard != nil && len(p) > 12 && bytes.HasPrefix(p, errorStatusPrefix) && (p[9] == '4' || p[9] == '5') {
		if q := c.serverRefusal(p); q != nil {
			if _, err := c.Conn.Write(q); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	return c.Conn.Write(p)
}

// serverRefusal recognises an answer net/http writes itself when it
// refuses a request head: every handler's answer has a Date header, these
// never do. It logs the refusal and returns the bytes to send instead, or
// nil to send p.
func (c *framingConn) serverRefusal(p []byte) []byte {
	head, _, ok := bytes.Cut(p, headEnd)
	if !ok || bytes.Contains(head, dateHeader) {
		return nil
	}
	status, err := strconv.Atoi(string(p[9:12]))
	if err != nil {
		return nil
	}
	c.mu.Lock()
	// net/http refuses either a head in progress (too large) or one it
	// has read whole (malformed), after which the tracker has moved on.
	line := c.reqLine
	if c.headLen == 0 {
		line = c.prevLine
	}
	requestLine := string(bytes.TrimRight(line, "\r\n"))
	_, maxLine := c.guard.limits()
	tooLong := maxLine > 0 && c.lineLen > maxLine
	c.mu.Unlock()
	var out []byte
	if status == 431 && tooLong {
		status, out = 414, uriTooLong
	}
	sent := p
	if out != nil {
		sent = out
	}
	_, body, _ := bytes.Cut(sent, headEnd)
	c.guard.refusedByServer(c, requestLine, status, int64(len(body)))
	return out
}

// refusedByServer logs a head the server refused itself (h1's, or
// net/http's seen by the tracker), in the log, the access log and the
// metrics: the client saw that answer.
func (g *headGuard) refusedByServer(c net.Conn, requestLine string, status int, bodyBytes int64) {
	requestLine = strings.TrimRight(requestLine, "\r\n")
	g.logger.Warn("edge: refusing request head", "remote", c.RemoteAddr().String(), "status", status, "request", truncate(requestLine))
	if access := g.access.Load(); access != nil {
		access.logRefused(c.RemoteAddr().String(), requestLine, status, bodyBytes)
	}
	if lm := g.refused.Load(); lm != nil {
		method, _, _ := strings.Cut(requestLine, " ")
		lm.counter(methodIndex(method), statusClass(status)).Inc()
	}
}
