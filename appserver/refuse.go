package appserver

import (
	"bufio"
	"fmt"
	"strconv"
	"time"

	"github.com/stack-web/stack/appserver/internal/sockconn"
)

// The answers the server gives without calling the handler.

// queuedTooLong reports whether a request stamped start (Unix µs, from the
// edge) or else accepted at accepted waited past QueueTimeout.
func (s *Server) queuedTooLong(start string, accepted time.Time) bool {
	since := accepted
	if us, err := strconv.ParseInt(start, 10, 64); err == nil && us > 0 {
		since = time.UnixMicro(us)
	}
	return time.Since(since) > s.QueueTimeout
}

// overloaded answers 503 to a request that waited too long in the queue:
// a fast refusal the client may retry, instead of a slow timeout.
func (s *Server) overloaded(c sockconn.Conn, bw *bufio.Writer) {
	s.logger().Warn("appserver: request waited longer than queue_timeout; answering 503", "queue_timeout", s.QueueTimeout)
	const msg = "503 Service Unavailable\n"
	fmt.Fprintf(bw, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 1\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(msg), msg)
	bw.Flush()
}

// badRequest answers a packet whose variables do not make an HTTP request.
func (s *Server) badRequest(c sockconn.Conn, bw *bufio.Writer, err error) {
	s.logger().Warn("appserver: bad request", "err", err)
	const msg = "400 Bad Request\n"
	fmt.Fprintf(bw, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(msg), msg)
	bw.Flush()
	c.CloseWrite()
	c.Close()
}
