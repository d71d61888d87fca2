package compress

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// mode is where a response stands in responseWriter.
type mode uint8

const (
	undecided mode = iota // no status yet
	holding               // qualifies, length unknown: holding its first bytes
	passing               // the header is out; the body passes untouched
	encoding              // the header is out; the body goes through enc
	hijacked              // the connection was taken (a 101 upgrade)
)

// responseWriter decides at the status whether the response is compressed
// and then writes it through an encoder or straight on. It keeps what the
// writer under it offers: Flush (see there), Hijack (WebSocket upgrades),
// ReadFrom (a file that passes uncompressed still goes out by sendfile)
// and Unwrap (for http.ResponseController).
type responseWriter struct {
	http.ResponseWriter
	h      *Handler
	accept []string // the request's Accept-Encoding, negotiated once a response qualifies
	coding Coding   // what the client gets; Identity: none
	ranged bool     // the request has a Range
	live   bool     // a stream: each Flush reaches the client (see Flush)
	inm    []string // the request's If-None-Match, for a 304's ETag
	mode   mode
	status int
	held   *[]byte // while holding
	enc    encoder // while encoding
}

func (w *responseWriter) WriteHeader(code int) {
	if w.mode != undecided {
		if w.mode != holding {
			w.ResponseWriter.WriteHeader(code) // net/http says it is superfluous
		}
		return
	}
	if code < 200 {
		// An interim response; 101 hands the connection over.
		if code == http.StatusSwitchingProtocols {
			w.mode = passing
		}
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.status = code
	hdr := w.Header()
	if code == http.StatusNotModified {
		notModified(hdr, w.inm)
	}
	if !w.h.eligible(code, hdr) {
		w.pass()
		return
	}
	length := int64(-1)
	if cl := hdr["Content-Length"]; len(cl) > 0 {
		n, err := strconv.ParseInt(cl[0], 10, 64)
		if err != nil || n < w.h.minLength {
			w.pass() // too short to gain: the same for every client, no Vary
			return
		}
		length = n
	}
	AddVary(hdr)
	if isEventStream(hdr["Content-Type"]) {
		w.live = true
	}
	if !w.ranged {
		w.coding = Negotiate(w.accept, w.h.offered)
	}
	switch {
	case w.coding == Identity:
		w.pass()
	case length >= 0 || w.h.minLength <= 0:
		w.encode()
	default:
		w.mode = holding
	}
}

// pass sends the header as it is; the body follows untouched.
func (w *responseWriter) pass() {
	w.mode = passing
	w.ResponseWriter.WriteHeader(w.status)
}

// encode sends the header of the compressed variant and readies the
// encoder.
func (w *responseWriter) encode() {
	hdr := w.Header()
	delete(hdr, "Content-Length")
	delete(hdr, "Accept-Ranges")
	hdr["Content-Encoding"] = codingValues[w.coding]
	if et := hdr["Etag"]; len(et) > 0 && !strings.HasPrefix(et[0], "W/") {
		hdr["Etag"] = []string{"W/" + et[0]}
	}
	w.mode = encoding
	w.enc = getEncoder(w.coding, w.ResponseWriter)
	w.ResponseWriter.WriteHeader(w.status)
}

var codingValues = [numCodings][]string{Gzip: {"gzip"}, Zstd: {"zstd"}, Brotli: {"br"}}

func (w *responseWriter) Write(p []byte) (int, error) {
	switch w.mode {
	case undecided:
		w.WriteHeader(http.StatusOK)
		return w.Write(p)
	case passing:
		return w.ResponseWriter.Write(p)
	case encoding:
		return w.enc.Write(p)
	case holding:
		if w.held == nil {
			w.held = getHeld()
		}
		if int64(len(*w.held)+len(p)) < w.h.minLength {
			*w.held = append(*w.held, p...)
			return len(p), nil
		}
		if err := w.encodeHeld(); err != nil {
			return 0, err
		}
		return w.enc.Write(p)
	}
	return 0, http.ErrHijacked
}

// encodeHeld decides for compression while holding: the response is long
// enough, or it is a stream that flushes.
func (w *responseWriter) encodeHeld() error {
	w.encode()
	if w.held == nil || len(*w.held) == 0 {
		return nil
	}
	_, err := w.enc.Write(*w.held)
	w.releaseHeld()
	return err
}

// ReadFrom keeps sendfile for a body that passes untouched (a file the
// client takes as it is); anything else is copied through Write.
func (w *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.mode == undecided {
		w.WriteHeader(http.StatusOK)
	}
	if w.mode == passing {
		if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
			return rf.ReadFrom(r)
		}
	}
	bp := copyPool.Get().(*[]byte)
	defer copyPool.Put(bp)
	// Both sides hidden: this ReadFrom must not be called back, nor an
	// *os.File's WriteTo, which would allocate a buffer of its own.
	return io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{r}, *bp)
}

// Flush, for a live stream (server-sent events, or a response the
// forwarder marked with LiveStream: one the edge does not buffer), sends
// what the encoder holds (a sync flush) and flushes the connection; a
// response still being held is compressed from here on, whatever its
// length turns out to be. For any other compressed (or held) response it
// does nothing, as nginx's gzip filter flushes only when its buffers fill
// or the response ends: the forwarder flushes after every read of a body
// of unknown length, and a sync flush per read of an upstream that writes
// its page in small pieces sent as many tiny chunks, each with the
// encoder's flush marker, as reads (200 chunks for a 20 KiB page).
func (w *responseWriter) Flush() {
	if w.mode == undecided {
		w.WriteHeader(http.StatusOK)
	}
	switch w.mode {
	case holding, encoding:
		if !w.live {
			return
		}
		if w.mode == holding {
			w.encodeHeld()
		}
		if err := w.enc.Flush(); err != nil {
			return
		}
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// LiveStream marks the response as a stream whose every Flush must reach
// the client (the forwarder calls it for a response it does not buffer:
// X-Accel-Buffering: no, or a location with buffering: false, as nginx's
// gzip flushes whenever an unbuffered upstream's read does).
func (w *responseWriter) LiveStream() { w.live = true }

// isEventStream reports whether a Content-Type is text/event-stream.
func isEventStream(ct []string) bool {
	if len(ct) == 0 {
		return false
	}
	base, _, _ := strings.Cut(ct[0], ";")
	return strings.EqualFold(strings.TrimSpace(base), "text/event-stream")
}

// Hijack hands the connection over (ReverseProxy does it after a 101).
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.mode = hijacked
	}
	return c, brw, err
}

// Unwrap returns the writer below, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish ends the response after the handler returned normally: a held
// response, shorter than min_length, goes out as it is; a compressed one
// gets the end of its stream.
func (w *responseWriter) finish() {
	switch w.mode {
	case holding:
		w.mode = passing
		w.ResponseWriter.WriteHeader(w.status)
		if w.held != nil && len(*w.held) > 0 {
			w.ResponseWriter.Write(*w.held)
		}
	case encoding:
		w.enc.Close()
		putEncoder(w.enc)
		w.enc = nil
	}
	w.releaseHeld()
}

// abandon releases what the response holds without writing anything: the
// handler panicked, and the response must end broken.
func (w *responseWriter) abandon() {
	if w.enc != nil {
		putEncoder(w.enc)
		w.enc = nil
	}
	w.releaseHeld()
}

func (w *responseWriter) releaseHeld() {
	if w.held != nil {
		heldPool.Put(w.held)
		w.held = nil
	}
}
