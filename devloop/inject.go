package devloop

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
)

// Script is the tag Inject adds to HTML pages.
const Script = `<script src="` + Prefix + `reload.js"></script>`

// Inject wraps an app's handler (in a dev worker, debug only) so that each
// full HTML page it serves loads the live-reload script: the tag goes
// before </body>, or at the end. Other responses, compressed ones, parts
// of a page (206) and streamed ones (the handler flushed) pass untouched.
// A HEAD is treated as its GET, so that its Content-Length is the GET's
// (the server sends no body).
func Inject(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		iw := &injectWriter{w: w, status: http.StatusOK}
		h.ServeHTTP(iw, r)
		iw.finish()
	})
}

// injectWriter holds back an HTML body until the handler returns.
type injectWriter struct {
	w        http.ResponseWriter
	status   int
	decided  bool // whether the response is held (html) or passed
	html     bool
	passthru bool // flushed: headers and body went out as they came
	body     bytes.Buffer
}

func (iw *injectWriter) Header() http.Header { return iw.w.Header() }

func (iw *injectWriter) decide() {
	if iw.decided {
		return
	}
	iw.decided = true
	h := iw.w.Header()
	iw.html = strings.HasPrefix(h.Get("Content-Type"), "text/html") && h.Get("Content-Encoding") == "" &&
		iw.status != http.StatusNoContent && iw.status != http.StatusNotModified &&
		iw.status != http.StatusPartialContent && h.Get("Content-Range") == ""
	if !iw.html {
		iw.w.WriteHeader(iw.status)
	}
}

func (iw *injectWriter) WriteHeader(code int) {
	if iw.decided || code < 200 {
		if code < 200 {
			iw.w.WriteHeader(code) // 1xx go out at once
		}
		return
	}
	iw.status = code
	iw.decide()
}

func (iw *injectWriter) Write(b []byte) (int, error) {
	if !iw.decided {
		if iw.w.Header().Get("Content-Type") == "" {
			iw.w.Header().Set("Content-Type", http.DetectContentType(b))
		}
		iw.decide()
	}
	if iw.html && !iw.passthru {
		return iw.body.Write(b)
	}
	return iw.w.Write(b)
}

// Flush gives up on injecting: a streamed page goes out as it comes.
func (iw *injectWriter) Flush() {
	iw.decide()
	if iw.html && !iw.passthru {
		iw.passthru = true
		iw.w.WriteHeader(iw.status)
		iw.w.Write(iw.body.Bytes())
		iw.body.Reset()
	}
	http.NewResponseController(iw.w).Flush()
}

func (iw *injectWriter) Unwrap() http.ResponseWriter { return iw.w }

func (iw *injectWriter) finish() {
	iw.decide()
	if !iw.html || iw.passthru {
		return
	}
	page := iw.body.Bytes()
	if i := bytes.LastIndex(bytes.ToLower(page), []byte("</body>")); i >= 0 {
		page = append(page[:i:i], append([]byte(Script), page[i:]...)...)
	} else {
		page = append(page, Script...)
	}
	iw.w.Header().Set("Content-Length", strconv.Itoa(len(page)))
	iw.w.WriteHeader(iw.status)
	iw.w.Write(page)
}
