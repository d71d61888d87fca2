package edge

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/stack-web/stack/edge/internal/errpage"
	"github.com/stack-web/stack/edge/internal/reqbody"
)

// refuseBody answers a request whose body read failed with err: 413 past
// client_max_body_size, 408 when the client paused longer than
// client_body_timeout (nginx's), 400 for a body that is malformed or ends
// early, 500 when the edge could not store the body (as nginx, whose temp
// file failing is its own error). An HTTP/1.x connection is closed after
// the answer; HTTP/2 ends the stream alone (there, net/http would take
// Connection: close for a GOAWAY of every stream's connection).
func refuseBody(w http.ResponseWriter, r *http.Request, br *reqbody.Reader, err error, logger *slog.Logger) {
	if r.ProtoMajor < 2 {
		w.Header().Set("Connection", "close")
	}
	switch {
	case errors.Is(err, reqbody.ErrTooLarge):
		logger.Warn("edge: request body over client_max_body_size", "remote", r.RemoteAddr, "uri", r.RequestURI, "limit", ByteSize(br.Max()), "content_length", r.ContentLength)
		errpage.Write(w, http.StatusRequestEntityTooLarge)
	case errors.Is(err, reqbody.ErrStore):
		logger.Error("edge: cannot store the request body", "remote", r.RemoteAddr, "uri", r.RequestURI, "err", err)
		errpage.Write(w, http.StatusInternalServerError)
	case reqbody.IsTimeout(err):
		logger.Warn("edge: client_body_timeout fired while reading the request body", "remote", r.RemoteAddr, "uri", r.RequestURI, "timeout", br.Timeout())
		errpage.Write(w, http.StatusRequestTimeout)
	default:
		logger.Info("edge: client body", "remote", r.RemoteAddr, "uri", r.RequestURI, "err", err)
		errpage.Write(w, http.StatusBadRequest)
	}
}
