package appserver

import (
	"bufio"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/stack-web/stack/uwsgi"
)

// response is the http.ResponseWriter of one uwsgi request. It writes a raw
// HTTP/1.1 response, which nginx and the edge parse as an HTTP upstream's.
//
// The first pendingSize bytes of body are held back: if the handler returns
// before they fill, the response gets an exact Content-Length and goes out
// in one write with its header, as net/http does. Past that, or on Flush,
// the header is sent without a length. For a peer that asked for it (the
// edge sends STACK_RESPONSE_FRAMING=chunked) such a body is chunked and
// ends with the last chunk only when the handler returned normally, so a
// response cut by harakiri or a panic can never pass for a complete one.
// For any other peer (nginx cannot dechunk a uwsgi body) the body ends when
// the connection closes, as with uWSGI, and an abnormal end resets the
// connection instead (see serveConn).
type response struct {
	req         *http.Request
	out         *bufio.Writer
	log         *slog.Logger
	chunked     bool         // the peer accepts a chunked body
	keepAlive   bool         // the peer asked to keep the connection, and the server agrees
	stopping    *atomic.Bool // the server's shutdown flag: no keep-alive offered once set
	chunking    bool         // the body is being sent chunked
	header      http.Header
	pending     []byte // body held back before the header is committed
	status      int
	wroteHeader bool
	committed   bool // the status line and header are in out
	aborted     bool
	written     int64 // body bytes the handler wrote
	declared    int64 // Content-Length the handler set, or -1
	err         error // first write error; later writes fail with it

	ctx  requestContext // the request's context (serveRequest)
	body requestBody    // the request's body (serveRequest)

	// For Hijack (hijack.go).
	srv      *Server
	cs       *conn
	br       *bufio.Reader // the connection's reader, holding what came past the request
	hijacked bool
}

var (
	_ http.ResponseWriter = (*response)(nil)
	_ http.Flusher        = (*response)(nil)
)

// errAborted is returned by writes after the handler aborted the response.
var errAborted = errors.New("appserver: response aborted")

func (w *response) Header() http.Header { return w.header }

// WriteHeader records the status. Informational statuses (1xx) are not
// relayed: a uwsgi response has one header, and the edge handles
// Expect: 100-continue itself. 101 is the head a Hijack sends (hijack.go).
func (w *response) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		panic("appserver: invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		return
	}
	w.wroteHeader = true
	w.status = code
	w.declared = -1
	if cl := w.header.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			w.declared = n
		} else {
			w.header.Del("Content-Length")
		}
	}
}

func (w *response) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.declared >= 0 && w.written+int64(len(p)) > w.declared {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if !w.committed {
		if len(w.pending)+len(p) <= cap(w.pending) {
			w.pending = append(w.pending, p...)
			return len(p), nil
		}
		w.commit(-1, p)
		return len(p), nil
	}
	if w.req.Method == http.MethodHead {
		return len(p), nil
	}
	if err := w.writeBody(p); err != nil {
		w.err = err
		return 0, err
	}
	return len(p), nil
}

func (w *response) WriteString(s string) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	// A string small enough to hold back costs no conversion.
	if !w.committed && w.err == nil && bodyAllowed(w.status) &&
		w.declared < 0 && len(w.pending)+len(s) <= cap(w.pending) {
		w.pending = append(w.pending, s...)
		w.written += int64(len(s))
		return len(s), nil
	}
	return w.Write([]byte(s))
}

// Flush sends the header and everything written so far.
func (w *response) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return
	}
	if !w.committed {
		w.commit(-1, nil)
	}
	if err := w.out.Flush(); err != nil {
		w.err = err
	}
}

// FlushError is Flush that reports failure (http.ResponseController uses it).
func (w *response) FlushError() error {
	w.Flush()
	return w.err
}

// abort stops the response where it is: nothing more is written, so the
// peer sees a response cut short (or none) and reports an upstream error.
func (w *response) abort() {
	w.aborted = true
	w.err = errAborted
}

// finish completes the response after the handler returned.
func (w *response) finish() error {
	if w.aborted {
		return errAborted
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return w.err
	}
	if !w.committed {
		w.commit(int64(len(w.pending)), nil)
	}
	if w.chunking {
		w.out.WriteString("0\r\n\r\n") // the handler returned: the body is complete
	}
	if err := w.out.Flush(); err != nil {
		w.err = err
	}
	return w.err
}

// complete reports whether the body sent is the whole of what its header
// announced, so that the next response on the connection cannot be taken
// for the rest of this one. Call it after a finish that succeeded.
func (w *response) complete() bool {
	if w.req.Method == http.MethodHead || !bodyAllowed(w.status) || w.chunking {
		return true
	}
	return w.declared < 0 || w.written == w.declared
}

// writeBody writes p to out, as a chunk when the body is chunked.
func (w *response) writeBody(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if w.chunking {
		var size [16]byte
		w.out.Write(strconv.AppendInt(size[:0], int64(len(p)), 16))
		w.out.WriteString("\r\n")
	}
	w.out.Write(p)
	if w.chunking {
		w.out.WriteString("\r\n")
	}
	_, err := w.out.Write(nil) // bufio.Writer keeps its first error
	return err
}

// commit writes the status line, the header and the held-back body, then
// extra. length is the whole body's length when known (the handler has
// returned), else -1.
func (w *response) commit(length int64, extra []byte) {
	w.committed = true
	h := w.header
	// The fields the server adds go next to the handler's map, as
	// net/http's extraHeader: no slice or string allocated for them.
	var added [3]addedField
	n := 0
	if bodyAllowed(w.status) {
		if _, ok := h["Content-Type"]; !ok && w.written > 0 {
			sniff := w.pending
			if len(sniff) == 0 {
				sniff = extra
			}
			added[n] = addedField{name: "Content-Type", value: http.DetectContentType(sniff), num: -1}
			n++
		}
		if w.declared < 0 && length >= 0 && (length > 0 || w.req.Method != http.MethodHead) {
			delete(h, "Content-Length") // an invalid one the handler set (WriteHeader dropped it too)
			added[n] = addedField{name: "Content-Length", num: length}
			n++
		}
	} else {
		delete(h, "Content-Length")
	}
	// Hop-by-hop framing is ours to decide: chunked for a peer that asked
	// for it, else the body ends at close.
	delete(h, "Transfer-Encoding")
	delete(h, "Connection")
	delete(h, uwsgi.KeepAliveHeader)
	if w.keepAlive && w.stopping.Load() {
		w.keepAlive = false
	}
	if w.keepAlive {
		added[n] = addedField{name: uwsgi.KeepAliveHeader, value: "1", num: -1}
		n++
	}
	if w.chunked && length < 0 && w.declared < 0 && bodyAllowed(w.status) && w.req.Method != http.MethodHead {
		added[n] = addedField{name: "Transfer-Encoding", value: "chunked", num: -1}
		n++
		w.chunking = true
	}
	w.dropBadValues()

	out := w.out
	out.WriteString(statusLine(w.status))
	writeFields(out, h, added[:n]) // sorts and drops invalid names
	out.WriteString("\r\n")
	if w.req.Method != http.MethodHead {
		if w.chunking && extra != nil && len(w.pending) > 0 {
			// One chunk for what was held back and what came with it.
			w.pending = append(w.pending, extra...)
			extra = nil
		}
		w.writeBody(w.pending)
		w.writeBody(extra)
	}
	w.pending = w.pending[:0]
}

// dropBadValues removes header fields whose value holds a NUL, CR or LF,
// logging each: such a byte would split or corrupt the response head, and
// nginx refuses it from an upstream ("upstream sent invalid header"). The
// app's bug is reported, never passed on, and never silently rewritten.
func (w *response) dropBadValues() {
	for name, vs := range w.header {
		for _, v := range vs {
			if strings.ContainsAny(v, "\x00\r\n") {
				if w.log != nil {
					w.log.Error("appserver: the app set a header value with NUL, CR or LF; dropping the field",
						"header", name, "value", strconv.Quote(v), "method", w.req.Method, "uri", w.req.RequestURI)
				}
				delete(w.header, name)
				break
			}
		}
	}
}

// bodyAllowed reports whether a response with this status may have a body
// (RFC 9110: not 1xx, 204 or 304).
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// statusLine returns "HTTP/1.1 <code> <text>\r\n", precomputed for the
// codes in net/http's table.
func statusLine(code int) string {
	if code < len(statusLines) && statusLines[code] != "" {
		return statusLines[code]
	}
	return "HTTP/1.1 " + strconv.Itoa(code) + " " + http.StatusText(code) + "\r\n"
}

var statusLines = func() []string {
	t := make([]string, 600)
	for code := 100; code < len(t); code++ {
		if text := http.StatusText(code); text != "" {
			t[code] = "HTTP/1.1 " + strconv.Itoa(code) + " " + text + "\r\n"
		}
	}
	return t
}()
