package h1

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// response is the http.ResponseWriter. The handler's first bytes are kept
// in a small buffer: a response that ends within it goes out with a
// Content-Length, head and body in one write; a longer one, or one flushed
// early, is sent chunked (HTTP/1.1) or delimited by the close (HTTP/1.0),
// unless the handler gave its own Content-Length. The head is written as
// net/http writes it, less the content sniffing (a response without a
// Content-Type gets none).
type response struct {
	c      *conn
	req    *http.Request
	header http.Header

	status     int
	wroteHdr   bool  // WriteHeader called (the status is set)
	committed  bool  // the head has gone to the connection's writer
	chunked    bool  // the body is chunked
	noBody     bool  // HEAD, 1xx, 204, 304: a body is dropped
	closeAfter bool  // the connection closes after this response
	declared   int64 // the handler's Content-Length, -1 if none
	written    int64 // body bytes the handler wrote
	aborted    bool  // the handler panicked
	deadline   bool  // the handler set a write deadline: it ends with the request
	buf        []byte
}

const bufferBeforeChunking = 4096

var (
	// ErrBodyNotAllowed is Write's error for a status that has no body.
	ErrBodyNotAllowed = http.ErrBodyNotAllowed
	errHijacked       = http.ErrHijacked
)

func (w *response) reset(r *http.Request) {
	// The last response's header map is cleared for this one: the
	// handler is done with it (it returned), unless it hijacked the
	// connection, which then serves no other request. One that grew
	// large is not kept (a clear costs with the map's size).
	if w.header == nil || len(w.header) > keptFields {
		w.header = make(http.Header, 8)
	} else {
		clear(w.header)
	}
	w.req = r
	w.status, w.wroteHdr, w.committed, w.chunked, w.aborted = 0, false, false, false, false
	w.noBody = r.Method == http.MethodHead
	w.closeAfter, w.deadline = false, false
	w.declared, w.written = -1, 0
	if w.buf == nil {
		w.buf = make([]byte, 0, bufferBeforeChunking)
	}
	w.buf = w.buf[:0]
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if w.c.hijacked {
		w.c.srv.logf("h1: WriteHeader on a hijacked connection")
		return
	}
	if w.wroteHdr {
		return
	}
	if code < 100 || code > 999 {
		panic("h1: invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.writeInterim(code)
		return
	}
	w.wroteHdr, w.status = true, code
	if code == http.StatusNoContent || code == http.StatusNotModified || code < 200 {
		w.noBody = true
	}
	if cl := w.header["Content-Length"]; len(cl) > 0 {
		if n, ok := parseContentLength(cl[0]); ok {
			w.declared = n
		} else {
			delete(w.header, "Content-Length")
		}
	}
}

// writeInterim sends a 1xx answer at once (103 Early Hints, ...).
func (w *response) writeInterim(code int) {
	if w.req.ProtoMinor == 0 {
		return // HTTP/1.0 knows none
	}
	bw := w.c.bw
	bw.WriteString("HTTP/1.1 ")
	bw.WriteString(statusLine(code))
	writeFields(bw, w.header, nil)
	bw.WriteString("\r\n")
	bw.Flush()
}

func (w *response) Write(p []byte) (int, error) {
	if w.c.hijacked {
		return 0, errHijacked
	}
	if !w.wroteHdr {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if w.status == http.StatusNoContent || w.status == http.StatusNotModified || w.status < 200 {
		return 0, ErrBodyNotAllowed
	}
	if w.declared >= 0 && w.written+int64(len(p)) > w.declared {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if w.noBody {
		return len(p), nil
	}
	if !w.committed {
		if len(w.buf)+len(p) <= cap(w.buf) {
			w.buf = append(w.buf, p...)
			return len(p), nil
		}
		w.commit(false)
	}
	return w.writeBody(p)
}

func (w *response) WriteString(s string) (int, error) {
	if !w.committed && w.wroteHdr && !w.noBody && w.declared < 0 && len(w.buf)+len(s) <= cap(w.buf) {
		w.buf = append(w.buf, s...)
		w.written += int64(len(s))
		return len(s), nil
	}
	return w.Write([]byte(s))
}

// writeBody sends p, framed, after the head.
func (w *response) writeBody(p []byte) (int, error) {
	bw := w.c.bw
	if w.chunked {
		bw.WriteString(strconv.FormatInt(int64(len(p)), 16))
		bw.WriteString("\r\n")
		n, err := bw.Write(p)
		if err != nil {
			return n, err
		}
		_, err = bw.WriteString("\r\n")
		return n, err
	}
	return bw.Write(p)
}

// commit writes the head to the connection's writer, and the buffered
// body after it. final: the handler has returned, so the buffer is the
// whole body.
func (w *response) commit(final bool) {
	if w.committed {
		return
	}
	w.committed = true
	if !w.wroteHdr {
		w.WriteHeader(http.StatusOK)
	}
	h := w.header
	r := w.req
	hasCL := w.declared >= 0
	bodyless := w.status == http.StatusNoContent || w.status == http.StatusNotModified || w.status < 200
	if !hasCL && !bodyless && final && (r.Method != http.MethodHead || w.written > 0) {
		w.declared, hasCL = w.written, true
	}
	if !hasCL && !bodyless && w.status != http.StatusSwitchingProtocols {
		if r.ProtoMinor >= 1 && r.Method != http.MethodHead {
			w.chunked = true
		} else if r.Method != http.MethodHead {
			w.closeAfter = true // HTTP/1.0: the close ends the body
		}
	}
	if w.c.body.wontDrain() {
		w.closeAfter = true
	}
	if w.c.srv.shuttingDown() || r.Close || containsToken(h["Connection"], "close") || w.c.head.problem != ProblemNone {
		w.closeAfter = true
	}
	bw := w.c.bw
	if r.ProtoMinor == 0 {
		bw.WriteString("HTTP/1.0 ") // as net/http answers HTTP/1.0
	} else {
		bw.WriteString("HTTP/1.1 ")
	}
	bw.WriteString(statusLine(w.status))
	writeFields(bw, h, skipFramingFields)
	if _, ok := h["Date"]; !ok {
		bw.WriteString("Date: ")
		bw.Write(w.c.srv.date())
		bw.WriteString("\r\n")
	}
	if hasCL && w.status != http.StatusNotModified && !(w.status == http.StatusNoContent) {
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), w.declared, 10))
		bw.WriteString("\r\n")
	}
	if w.chunked {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if w.closeAfter {
		if !containsToken(h["Connection"], "close") {
			bw.WriteString("Connection: close\r\n")
		}
	} else if r.ProtoMinor == 0 {
		bw.WriteString("Connection: keep-alive\r\n")
	}
	bw.WriteString("\r\n")
	if len(w.buf) > 0 {
		b := w.buf
		w.buf = w.buf[:0]
		w.writeBody(b)
	}
}

// skipFramingFields are written by commit itself.
var skipFramingFields = map[string]bool{"Content-Length": true, "Transfer-Encoding": true}

// writeFields writes h's fields (but skip's), with CR and LF in values
// made spaces and invalid names dropped, as net/http does.
func writeFields(bw *bufio.Writer, h http.Header, skip map[string]bool) {
	for k, vv := range h {
		if skip[k] || !validToken(k) {
			continue
		}
		if k == "Connection" && len(vv) == 1 && vv[0] == "keep-alive" {
			continue // commit says what the connection does
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			writeValue(bw, v)
			bw.WriteString("\r\n")
		}
	}
}

func writeValue(bw *bufio.Writer, v string) {
	start := 0
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '\r' || c == '\n' {
			bw.WriteString(v[start:i])
			bw.WriteByte(' ')
			start = i + 1
		}
	}
	bw.WriteString(v[start:])
}

// finish ends the response after the handler returned and reports whether
// the connection can be kept.
func (w *response) finish() bool {
	w.commit(true)
	if w.chunked {
		w.c.bw.WriteString("0\r\n")
		w.writeTrailers()
		w.c.bw.WriteString("\r\n")
	}
	if err := w.c.bw.Flush(); err != nil {
		return false
	}
	if w.declared >= 0 && w.written < w.declared && !w.noBody {
		return false // short of its Content-Length: the client must see it end
	}
	return !w.closeAfter
}

// writeTrailers writes the trailer fields the handler set, as net/http
// does: those its Trailer header announced (their values as the handler
// left them) and those under http.TrailerPrefix; never a framing field.
func (w *response) writeTrailers() {
	h, bw := w.header, w.c.bw
	field := func(k string, vv []string) {
		if !validToken(k) || k == "Content-Length" || k == "Transfer-Encoding" || k == "Trailer" {
			return
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			writeValue(bw, v)
			bw.WriteString("\r\n")
		}
	}
	for _, v := range h["Trailer"] {
		for k := range strings.SplitSeq(v, ",") {
			k = http.CanonicalHeaderKey(strings.TrimSpace(k))
			field(k, h[k])
		}
	}
	for k, vv := range h {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			field(http.CanonicalHeaderKey(name), vv)
		}
	}
}

func (w *response) Flush() { w.FlushError() }

// FlushError sends what is buffered; http.ResponseController uses it.
func (w *response) FlushError() error {
	if w.c.hijacked {
		return errHijacked
	}
	w.commit(false)
	return w.c.bw.Flush()
}

// ReadFrom sends src with the connection's own ReadFrom (sendfile(2) for
// a file) when the body goes out as it is: a declared length, no chunks.
func (w *response) ReadFrom(src io.Reader) (int64, error) {
	if w.c.hijacked {
		return 0, errHijacked
	}
	if !w.wroteHdr {
		w.WriteHeader(http.StatusOK)
	}
	rf, ok := w.c.rwc.(io.ReaderFrom)
	if !ok || w.noBody || w.declared < 0 {
		return io.Copy(writerOnly{w}, src)
	}
	w.c.clearStaleWriteDeadline()
	if uncork := cork(w.c.rwc); uncork != nil {
		defer uncork()
	}
	w.commit(false)
	if err := w.c.bw.Flush(); err != nil {
		return 0, err
	}
	// Never past the declared length: the excess would be read as the
	// next response (Write refuses it the same way).
	if lr, ok := src.(*io.LimitedReader); ok {
		lr.N = min(lr.N, w.declared-w.written)
	} else {
		src = &io.LimitedReader{R: src, N: w.declared - w.written} // still sendfile's shape
	}
	n, err := rf.ReadFrom(src)
	w.written += n
	return n, err
}

type writerOnly struct{ io.Writer }

// Hijack hands the connection over: the head written so far (a 101) is
// sent first, and what the server read past the request comes with the
// returned reader.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c := w.c
	if c.hijacked {
		return nil, nil, errHijacked
	}
	if w.wroteHdr {
		w.commit(false)
	}
	if err := c.bw.Flush(); err != nil {
		return nil, nil, err
	}
	early := c.cr.takeOver()
	c.rwc.SetDeadline(time.Time{})
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(early), c.rwc), max(4096, len(early)))
	if len(early) > 0 {
		br.Peek(len(early))
	}
	c.setState(http.StateHijacked)
	c.srv.forget(c)
	return c.rwc, bufio.NewReadWriter(br, bufio.NewWriter(c.rwc)), nil
}

func (w *response) SetReadDeadline(t time.Time) error {
	if w.c.hijacked {
		return errHijacked
	}
	return w.c.cr.setReadDeadline(t)
}

func (w *response) SetWriteDeadline(t time.Time) error {
	if w.c.hijacked {
		return errHijacked
	}
	w.deadline = true
	return w.c.setWriteDeadline(t)
}

// Unsent is how many bytes of the response the kernel holds that the
// client has not yet acknowledged; ok is false where that is unknown.
func (w *response) Unsent() (n int, ok bool) {
	if w.c.hijacked {
		return 0, false
	}
	return unsent(w.c.rwc)
}

// EnableFullDuplex: the request body can always be read while the
// response is written here.
func (w *response) EnableFullDuplex() error { return nil }
