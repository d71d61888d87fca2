package edge

import (
	"io"
	"net/http"
	"os"
	"time"

	"github.com/stack-web/stack/edge/internal/linger"
	"github.com/stack-web/stack/edge/internal/reqid"
	"github.com/stack-web/stack/edge/internal/tunnel"
	"github.com/stack-web/stack/edge/upstream"
)

// clientWriter is the edge's view of the response to the client: it keeps a
// write deadline on the connection (send_timeout counts between writes, as in
// nginx, so a long download to a live client is never cut while a stalled
// client is), and records the status and size for the access log. It
// unwraps to the server's writer, so http.ResponseController works.
//
// The deadline is renewed on the first write, on every flush and after
// every renewEvery bytes, rather than on every write: renewing is a timer
// operation and a small response is one write. The server's writer is
// asked for its Flush and SetWriteDeadline directly (net/http's has both),
// through an http.ResponseController only where it lacks them: one
// allocation less per request.
type clientWriter struct {
	http.ResponseWriter
	timeout   time.Duration
	status    int
	bytes     int64
	renewedAt int64 // bytes written when the deadline was last renewed; -1 before the first

	// For the logs (requestid.go, edge/internal/accesslog).
	requestID string
	idHeader  [1]string       // the X-Request-Id header's value slice
	idBytes   [reqid.Len]byte // a fresh id's bytes (requestid.go)
	// fwdHeaders are the X-Forwarded-For, -Proto and -Host values the
	// proxy sends (proxy.go): the header's slices, kept here.
	fwdHeaders [3]string
	upstream   upstream.Trace // filled by the upstream when traced (the JSON access log wants it)
	traced     bool

	// For a protocol switch (websocket.go).
	ws            *wsLimits        // the location's limits, set for a request that asks to upgrade
	upgraded      *tunnel.Registry // the edge's, for Shutdown
	hijacked      *tunnel.Conn     // the connection, once switched
	cancelUpgrade func()           // ends the switched request's context
	// lingering is the request's body when an answer sent before it was
	// read ends in a lingering close (edge/internal/linger): that answer says so.
	lingering *linger.Body
}

const renewEvery = 64 << 10

func (w *clientWriter) WriteHeader(code int) {
	if code < 200 && code != http.StatusSwitchingProtocols {
		// Interim responses of an http upstream, which ReverseProxy
		// passes on, are skipped as over uwsgi (and as nginx does without
		// early_hints): the edge answered the client's Expect itself, and
		// an HTTP/1.0 client must get none. 101 is an upgrade's answer.
		return
	}
	if w.status == 0 && code >= 200 {
		w.status = code
		// The edge never invents a Content-Type: net/http would sniff one
		// for a response that has none (an upstream's "<html>…" without a
		// type would become text/html). nginx sends none either.
		if h := w.Header(); h["Content-Type"] == nil {
			h["Content-Type"] = nil
		}
		if w.lingering != nil && !w.lingering.Done() {
			// Without it, a keep-alive client would send its next request
			// on a connection about to close, to be read as leftover body.
			w.Header().Set("Connection", "close")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *clientWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.renewedAt < 0 || w.bytes-w.renewedAt >= renewEvery {
		w.renew()
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom sends a large file with sendfile(2) (http.ServeContent copies
// from its *os.File through here), a piece of renewEvery bytes at a time so
// that send_timeout still counts between them. A small or unsized body
// goes through Write, into the buffer that carries it out with the header
// in one write.
func (w *clientWriter) ReadFrom(r io.Reader) (n int64, err error) {
	rf, ok := w.ResponseWriter.(io.ReaderFrom)
	lr, sized := r.(*io.LimitedReader)
	if !ok || !sized || lr.N < 2*renewEvery {
		return io.Copy(struct{ io.Writer }{w}, r)
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := lr.R.(*os.File); ok {
		return w.sendFile(rf, lr, f) // in one piece, while the client reads (sendfile.go)
	}
	for lr.N > 0 {
		w.renew()
		// One level of LimitedReader over the file, which is what the
		// connection's ReadFrom recognises for sendfile.
		piece := &io.LimitedReader{R: lr.R, N: min(lr.N, renewEvery)}
		m, err := rf.ReadFrom(piece)
		lr.N -= m
		n += m
		w.bytes += m
		if err != nil || m == 0 {
			return n, err
		}
	}
	return n, nil
}

func (w *clientWriter) Flush() {
	w.renew()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	} else {
		http.NewResponseController(w.ResponseWriter).Flush()
	}
}

type writeDeadliner interface{ SetWriteDeadline(time.Time) error }

func (w *clientWriter) renew() {
	w.setWriteDeadline(time.Now().Add(w.timeout))
	w.renewedAt = w.bytes
}

func (w *clientWriter) setWriteDeadline(t time.Time) {
	if d, ok := w.ResponseWriter.(writeDeadliner); ok {
		d.SetWriteDeadline(t)
	} else {
		http.NewResponseController(w.ResponseWriter).SetWriteDeadline(t)
	}
}

func (w *clientWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
