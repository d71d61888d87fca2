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
func serveWhole(w http.ResponseWriter, r *http.Request, f *os.File, fi fs.FileInfo) {
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
	if r.Method != http.MethodHead {
		io.CopyN(w, f, size) // through the writers' ReadFrom: sendfile
	}
}
