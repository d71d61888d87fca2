package static

import (
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"time"
)

// serveWhole answers a plain GET or HEAD (no range, no condition) of a
// file too large for the cache, with the header ServeContent would give
// it, without ServeContent's work for the cases that are not there: two
// lseeks for the size fstat gave, the parse of conditions. As nginx, the
// length is the one fstat gave: a file truncated while it is sent ends the
// connection short of it, which the client sees as an error, rather than a
// response with another file's length.
//
// It reports whether the body went out whole; the caller, once it has
// let go of f, ends a short one with abort.
func serveWhole(w http.ResponseWriter, r *http.Request, f *os.File, fi fs.FileInfo) bool {
	h := w.Header()
	if mt := fi.ModTime(); !mt.IsZero() && !mt.Equal(time.Unix(0, 0)) {
		h["Last-Modified"] = []string{mt.UTC().Format(http.TimeFormat)}
	}
	if _, have := h["Content-Type"]; !have {
		// No type by extension (serve sets it): sniffed from the first
		// bytes, read in place so that sendfile starts at the start.
		var head [512]byte
		n, _ := f.ReadAt(head[:], 0)
		h["Content-Type"] = []string{http.DetectContentType(head[:n])}
	}
	h["Accept-Ranges"] = []string{"bytes"}
	size := fi.Size()
	if h.Get("Content-Encoding") == "" {
		h["Content-Length"] = []string{strconv.FormatInt(size, 10)}
	}
	w.WriteHeader(http.StatusOK)
	return sendBody(w, r, f, size)
}

// sendBody copies size bytes of f to w, through the writers' ReadFrom
// (sendfile), unless r is a HEAD; it reports whether they all went.
func sendBody(w http.ResponseWriter, r *http.Request, f *os.File, size int64) bool {
	if r.Method == http.MethodHead {
		return true
	}
	_, err := io.CopyN(w, f, size)
	return err == nil
}

// abort ends a response whose body fell short of its length (the file was
// truncated while it was sent, or the client left) by closing the
// connection, or resetting the stream: the edge's HTTP/1.1 server closes
// a response short of its Content-Length by itself, but an HTTP/2 stream
// ended cleanly (END_STREAM) after the bytes there were, which a client
// that does not count them takes for the whole file. As nginx, which
// resets the stream of a file "truncated" under it. A handler called
// without a server (a test's recorder) returns.
func abort(r *http.Request) {
	if r.Context().Value(http.ServerContextKey) != nil {
		panic(http.ErrAbortHandler)
	}
}

// serveContent is http.ServeContent (ranges, conditions) over an open
// file, aborted as serveWhole is when the body it sends falls short of
// the Content-Length it set: ServeContent ignores the copy's error.
func serveContent(w http.ResponseWriter, r *http.Request, name string, modTime time.Time, f *os.File) {
	cw := &countingWriter{ResponseWriter: w}
	http.ServeContent(cw, r, name, modTime, f)
	if r.Method == http.MethodHead {
		return
	}
	if cl, err := strconv.ParseInt(w.Header().Get("Content-Length"), 10, 64); err == nil && cw.n < cl {
		abort(r)
	}
}

// countingWriter counts the body bytes written through it.
type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

// ReadFrom keeps sendfile: ServeContent copies the file through it.
func (w *countingWriter) ReadFrom(r io.Reader) (n int64, err error) {
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
	}
	w.n += n
	return n, err
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
