package stdserver

import (
	"io"
	"net/http"
	"time"
)

// socket_timeout over http: the longest pause reading the request body or
// writing the response, as over uwsgi (and uWSGI's http-socket). net/http
// bounds only the head (ReadHeaderTimeout); its ReadTimeout and
// WriteTimeout bound a whole request, which a long upload or stream may
// rightly pass. Without a bound, a client that stopped sending the body it
// announced, or stopped reading the response, held the handler (and its
// threads slot) for as long as it kept the connection open. Each read of
// the body and each write moves the connection's deadline on; net/http
// clears both once the response is done, and a hijack clears them too.
// Over FastCGI the records of a request share the web server's
// connection: no deadline of its own to set.

// pauseBody moves the read deadline before each read of the body.
type pauseBody struct {
	io.ReadCloser
	rc *http.ResponseController
	d  time.Duration
}

func (b *pauseBody) Read(p []byte) (int, error) {
	b.rc.SetReadDeadline(time.Now().Add(b.d))
	return b.ReadCloser.Read(p)
}

// boundPauses sets up w and r for SocketTimeout, if any (over http).
func (g *handlerGuard) boundPauses(w *countingWriter, r *http.Request) {
	if g.fcgi || g.SocketTimeout <= 0 {
		return
	}
	w.pauses = http.NewResponseController(w.ResponseWriter)
	w.pause = g.SocketTimeout
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &pauseBody{ReadCloser: r.Body, rc: w.pauses, d: g.SocketTimeout}
	}
}

// extend moves the write deadline before a write (and before net/http's
// own last flush, once the handler has returned).
func (w *countingWriter) extend() {
	if w.pauses != nil {
		w.pauses.SetWriteDeadline(time.Now().Add(w.pause))
	}
}
