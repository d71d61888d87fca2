package appserver

import (
	"net/http"
	"time"
)

// handlerExited ends a request whose handler called runtime.Goexit (as
// t.FailNow does in a handler under test): the goroutine serving it
// unwinds past serveRequest, and on an accept loop (acceptloop.go) the
// loop ends with it. The response ends as after a panic (a 500 if nothing
// was sent, cut short otherwise) and the connection is closed, never kept,
// so that the peer is not left waiting for an answer that cannot come and
// Shutdown does not wait for a request that is gone. Deferred by
// serveRequest; the callers' own defers untrack the connection.
func (s *Server) handlerExited(cs *conn, w *response, start time.Time) {
	if s.Harakiri > 0 {
		cs.end()
	}
	req := w.req
	s.logger().Error("appserver: handler called runtime.Goexit; ended its response and closed the connection",
		"method", req.Method, "uri", req.RequestURI, "request_id", requestID(req))
	if w.hijacked {
		s.hijackEnded(cs, w, start, true)
		return
	}
	w.keepAlive = false // the connection is closed below: the edge must not pool it
	if !w.committed && !w.aborted {
		w.header = make(http.Header)
		w.pending = w.pending[:0]
		w.status, w.wroteHeader, w.err = 0, false, nil
		http.Error(w, "500 Internal Server Error", http.StatusInternalServerError)
	} else {
		w.abort()
	}
	if err := w.finish(); err != nil && w.aborted && !w.chunking {
		cs.c.Reset() // a close-delimited body cut short must not end in an orderly close
	}
	s.served.Add(1)
	if s.LogRequests {
		s.logRequest(w, start, true)
	}
	if s.OnRequest != nil {
		s.OnRequest(time.Since(start), w.written, true)
	}
	cs.c.Close()
}
