package framework

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Context is the data a template page is rendered with, Django's context
// dict: {{.question.Text}} reads Context{"question": q}.
//
// Render adds, unless the view set them, Django's default context
// processors: "request" (the *Request), "csrf_token" (this response's
// masked CSRF token; prints as text), "messages" (the *Messages; range
// over {{.messages.All}}, which marks them shown) and "debug"
// (Settings.Debug), then Config.ContextProcessors.
type Context map[string]any

// Header values set on every response of their kind. They are never
// modified: a handler that sets the header replaces the slice.
var (
	htmlContentType = []string{"text/html; charset=utf-8"}
	jsonContentType = []string{"application/json"}
)

// bufPool holds the buffers JSON responses are encoded into.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuffer keeps an occasional huge response from pinning its buffer.
const maxPooledBuffer = 1 << 20

// Render renders template page name with ctx and writes it with status 200,
// Django's render(request, name, context). The page is rendered before
// anything is written, so an error (returned, for the view to return)
// still gets a clean 500 page.
func (r *Request) Render(w http.ResponseWriter, name string, ctx Context) error {
	return r.RenderStatus(w, http.StatusOK, name, ctx)
}

// RenderStatus is Render with another status code.
func (r *Request) RenderStatus(w http.ResponseWriter, status int, name string, ctx Context) error {
	h := w.Header()
	if _, ok := h["Content-Type"]; !ok {
		h["Content-Type"] = htmlContentType
	}
	if status == http.StatusOK {
		return r.render(w, name, ctx)
	}
	sw := &statusWriter{ResponseWriter: w, status: status}
	if err := r.render(sw, name, ctx); err != nil {
		return err
	}
	if !sw.started {
		w.WriteHeader(status)
	}
	return nil
}

// render executes page name with ctx and the context processors.
func (r *Request) render(w io.Writer, name string, ctx Context) error {
	if r.app == nil || r.app.renderer == nil {
		return fmt.Errorf("framework: render %s: the app has no templates (Config.Apps with Templates, or Settings.TemplateDirs)", name)
	}
	if ctx == nil {
		ctx = make(Context, 4)
	}
	r.app.addContext(r, ctx)
	return r.app.renderer.Render(w, name, ctx)
}

// JSON writes v as JSON with status, Django's JsonResponse. v is encoded
// before anything is written, so an encoding error can still become a 500.
func (r *Request) JSON(w http.ResponseWriter, status int, v any) error {
	buf := bufPool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledBuffer {
			buf.Reset()
			bufPool.Put(buf)
		}
	}()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		return fmt.Errorf("framework: encode JSON response: %w", err)
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes()) // a failed write is a client gone: nothing to report to it
	return nil
}

// Redirect answers 302 Found with Location url, Django's redirect(url) /
// HttpResponseRedirect. A relative url is resolved against the request's
// full path: inside a Mount, the mount prefix included.
func (r *Request) Redirect(w http.ResponseWriter, url string) error {
	hr := r.Request
	if r.mountPrefix != "" && !strings.HasPrefix(url, "/") && !strings.Contains(url, ":") {
		// net/http resolves against hr.URL.Path, from which the Mount
		// removed its prefix: "next" from /api/items/list would become
		// /items/next. Resolve against the path the client asked for.
		c := *hr
		u := *hr.URL
		u.Path, u.RawPath = r.mountPrefix+hr.URL.Path, ""
		c.URL = &u
		hr = &c
	}
	http.Redirect(w, hr, url, http.StatusFound)
	return nil
}

// RedirectTo redirects to the URL of the named pattern, Django's
// redirect("polls:results", question.id). An unknown name or unfit
// arguments return the ErrNoReverseMatch error (a 500).
func (r *Request) RedirectTo(w http.ResponseWriter, name string, args ...any) error {
	u, err := r.app.Reverse(name, args...)
	if err != nil {
		return err
	}
	return r.Redirect(w, u)
}

// Reverse is App.Reverse, Django's reverse().
func (r *Request) Reverse(name string, args ...any) (string, error) {
	return r.app.Reverse(name, args...)
}

// Stream answers 200 with contentType and lets fn write the body, which
// reaches the client as it is written (each Write is flushed), Django's
// StreamingHttpResponse. It also sets "X-Accel-Buffering: no" so that the
// edge does not buffer it. An error from fn is returned (and logged by the
// App); the client sees a truncated body.
func (r *Request) Stream(w http.ResponseWriter, contentType string, fn func(w io.Writer) error) error {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Accel-Buffering", "no")
	h.Del("Content-Length")
	w.WriteHeader(http.StatusOK)
	fw := &flushWriter{w: w, rc: http.NewResponseController(w)}
	_ = fw.rc.Flush() // the headers go now, before the first chunk is ready
	return fn(fw)
}

// flushWriter flushes after every Write.
type flushWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (f *flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		if ferr := f.rc.Flush(); ferr != nil && !errors.Is(ferr, http.ErrNotSupported) {
			err = ferr
		}
	}
	return n, err
}

// File answers with content through http.ServeContent, Django's
// FileResponse: Content-Type from name's extension (or sniffed), Range,
// If-Modified-Since (when modtime is not zero) and HEAD are handled.
func (r *Request) File(w http.ResponseWriter, name string, modtime time.Time, content io.ReadSeeker) error {
	http.ServeContent(w, r.Request, name, modtime, content)
	return nil
}

// FileFS answers with file name of fsys as File does; a missing file or a
// directory is a 404 error.
func (r *Request) FileFS(w http.ResponseWriter, fsys fs.FS, name string) error {
	f, err := fsys.Open(name)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
		return NotFound("")
	}
	if err != nil {
		return fmt.Errorf("framework: open %s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("framework: stat %s: %w", name, err)
	}
	if fi.IsDir() {
		return NotFound("")
	}
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		b, err := io.ReadAll(f)
		if err != nil {
			return fmt.Errorf("framework: read %s: %w", name, err)
		}
		rs = bytes.NewReader(b)
	}
	http.ServeContent(w, r.Request, fi.Name(), fi.ModTime(), rs)
	return nil
}

// responseWriter is the one wrapper around the server's ResponseWriter. It
// records the status and size for the log, tells recovery and error
// handling whether the response has started, and lets the session be saved
// (a Set-Cookie header added) just before the headers go out. It lives
// inside the Request, so it costs no allocation.
type responseWriter struct {
	w      http.ResponseWriter
	st     *Request
	status int
	bytes  int64
	wrote  bool
}

func (rw *responseWriter) reset(w http.ResponseWriter, st *Request) {
	*rw = responseWriter{w: w, st: st, status: http.StatusOK}
}

func (rw *responseWriter) Header() http.Header { return rw.w.Header() }

func (rw *responseWriter) WriteHeader(code int) {
	if rw.wrote || (code >= 100 && code < 200 && code != http.StatusSwitchingProtocols) {
		rw.w.WriteHeader(code) // informational, or superfluous (net/http logs that)
		return
	}
	rw.wrote, rw.status = true, code
	if rw.st.sessions != nil {
		saveSession(rw.st.sessions, rw.st, rw.w.Header(), code)
	}
	rw.w.WriteHeader(code)
}

func (rw *responseWriter) Write(b []byte) (int, error) {
	if !rw.wrote {
		rw.WriteHeader(http.StatusOK)
	}
	n, err := rw.w.Write(b)
	rw.bytes += int64(n)
	return n, err
}

// Flush sends what was written so far (http.Flusher).
func (rw *responseWriter) Flush() {
	if !rw.wrote {
		rw.WriteHeader(http.StatusOK)
	}
	if f, ok := rw.w.(http.Flusher); ok {
		f.Flush()
		return
	}
	_ = http.NewResponseController(rw.w).Flush()
}

// ReadFrom keeps the server's sendfile path for http.ServeContent.
func (rw *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if !rw.wrote {
		rw.WriteHeader(http.StatusOK)
	}
	var n int64
	var err error
	if rf, ok := rw.w.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(struct{ io.Writer }{rw.w}, src)
	}
	rw.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the server's writer (for
// Hijack, deadlines, full duplex).
func (rw *responseWriter) Unwrap() http.ResponseWriter { return rw.w }
