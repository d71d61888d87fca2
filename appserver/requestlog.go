package appserver

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/stack-web/stack/uwsgi"
)

// VarRequestID is the uwsgi variable in which the edge sends its id of
// the request (the edge's upstream.VarRequestID). Behind another proxy
// (nginx: uwsgi_param HTTP_X_REQUEST_ID $request_id), the X-Request-Id
// header is used instead.
const VarRequestID = "STACK_REQUEST_ID"

// requestID is the request's id as the tier in front named it, or "".
func requestID(vars uwsgi.Vars, req *http.Request) string {
	if id := vars.Value(VarRequestID); id != "" {
		return id
	}
	if v := req.Header["X-Request-Id"]; len(v) > 0 {
		return v[0]
	}
	return ""
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
		slog.String("request_id", w.requestID),
		slog.String("method", w.req.Method),
		slog.String("uri", w.req.RequestURI),
		slog.Int("status", status),
		slog.Int64("bytes", w.written),
		slog.Duration("duration", time.Since(start)),
		slog.Bool("panicked", panicked),
	)
}
