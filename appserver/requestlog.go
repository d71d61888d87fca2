package appserver

import (
	"log/slog"
	"net/http"
	"time"
)

// requestID is the request's id as the tier in front named it, or "".
// The edge sends it twice: as the header X-Request-Id, read here (so that
// behind nginx `uwsgi_param HTTP_X_REQUEST_ID $request_id;` works the
// same), and as the uwsgi variable STACK_REQUEST_ID, for servers that log
// variables (uWSGI's logformat %(var.STACK_REQUEST_ID)).
//
// Behind a server that passes the client's header on (nginx's default
// uwsgi_params send them all), the value is the client's: one that is not
// made as ids are (the edge's rule: at most 128 letters, digits and
// -_.:+/=@) is not logged, so that a client cannot fill every line
// written about it.
func requestID(req *http.Request) string {
	if v := req.Header["X-Request-Id"]; len(v) > 0 && isRequestID(v[0]) {
		return v[0]
	}
	return ""
}

func isRequestID(s string) bool {
	if len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c == '-', c == '_', c == '.', c == ':', c == '+', c == '/', c == '=', c == '@':
		default:
			return false
		}
	}
	return true
}

// logRequest writes the per-request line (appserver.log_requests, as
// uWSGI's request logging): the id that ties it to the edge's access log
// line, the request, the answer and the handler's time. It is off by
// default: the record and its write(2) cost no extra allocation
// (BenchmarkServerLogRequests) but, measured on `stack up` with hello
// under wrk, 10-15% more CPU per request (about 210 → 240 µs, stderr to a
// file), where the edge's access log already has one line per request.
func (s *Server) logRequest(w *response, start time.Time, panicked bool) {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	s.logger().LogAttrs(w.req.Context(), slog.LevelInfo, "appserver: request",
		slog.String("request_id", requestID(w.req)),
		slog.String("method", w.req.Method),
		slog.String("uri", w.req.RequestURI),
		slog.Int("status", status),
		slog.Int64("bytes", w.written),
		slog.Duration("duration", time.Since(start)),
		slog.Bool("panicked", panicked),
	)
}
