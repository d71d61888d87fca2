package edge

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stack-web/stack/edge/internal/errpage"
	"github.com/stack-web/stack/edge/internal/limitzone"
)

// X-Accel-Redirect, as nginx: an app answers with the header
// "X-Accel-Redirect: /protected/report.pdf" (and usually an empty body),
// and the edge serves that URI from an internal location instead, so that
// the app decides who may download a file and the edge sends it (with
// ranges, conditional requests and sendfile), as Django sites do with
// nginx.
//
//   - An internal location (locations[i].internal: true) answers a client
//     that asks for it directly with 404, as nginx's `internal`.
//   - The URI is percent-decoded and checked as nginx's
//     ngx_http_parse_unsafe_uri does: it must be a path (no scheme or
//     host, no named location), with no ".." segment and no NUL; a query
//     is allowed. Unlike nginx, it must land in an internal location: a
//     redirect into a public location or nowhere is a 404 and a log line,
//     never a file the app did not mean to expose.
//   - The upstream's body and status are dropped. The headers nginx keeps
//     through the redirect are kept (its ngx_http_upstream_headers_in
//     entries with redirect set): Content-Type, Content-Disposition,
//     Cache-Control, Expires, Set-Cookie, Accept-Ranges. Content-Type
//     wins over the file's own type, as in nginx (whose static module sets
//     a type only when none is set), so an app that sends none gets the
//     file's.
//   - The method becomes GET (HEAD stays HEAD), as in nginx.
//   - One redirect per request: an internal upstream location that
//     answers with X-Accel-Redirect again gets a 500 (nginx allows ten
//     internal redirects; one is all a download needs, and no loop is
//     possible).
//   - X-Accel-Limit-Rate: N (bytes per second) beside X-Accel-Redirect
//     paces the file's sending, as nginx's limit_rate (the header alone,
//     without a redirect, is hidden and ignored).
//   - The redirected request is not counted again by a limit its first
//     location applied (rate_limit, limit_conn: limits.go), as nginx
//     checks each once; the internal location's own limit of a kind
//     the first location did not apply does count it.

// accelKeptHeaders are the upstream headers the redirected answer keeps.
var accelKeptHeaders = [...]string{"Content-Type", "Content-Disposition", "Cache-Control", "Expires", "Set-Cookie", "Accept-Ranges"}

// countedBy reports which limits h (a location's handler) applies.
func countedBy(h http.Handler) limitzone.Counted {
	for {
		if l, ok := h.(*limitzone.Handler); ok {
			return l.Counts()
		}
		u, ok := h.(unwrapper)
		if !ok {
			return limitzone.Counted{}
		}
		h = u.Unwrap()
	}
}

// accelTarget reports whether r came through X-Accel-Redirect.
func accelTarget(r *http.Request) bool {
	_, ok := limitzone.Redirected(r.Context())
	return ok
}

// internalOnly guards an internal location.
type internalOnly struct{ next http.Handler }

func (h internalOnly) Unwrap() http.Handler { return h.next }

func (h internalOnly) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !accelTarget(r) {
		errpage.Write(w, http.StatusNotFound)
		return
	}
	h.next.ServeHTTP(w, r)
}

// accelRedirect is the upstream's X-Accel-Redirect, carried from
// modifyResponse to errorHandler (ReverseProxy's way out of a response).
type accelRedirect struct {
	uri    string
	header http.Header
}

func (a *accelRedirect) Error() string { return "X-Accel-Redirect: " + a.uri }

var errAccelLoop = errors.New("X-Accel-Redirect from a request already redirected")

// checkAccel is modifyResponse's first step: a response that asks for a
// redirect becomes an *accelRedirect error.
func checkAccel(resp *http.Response) error {
	v := resp.Header["X-Accel-Redirect"]
	if len(v) == 0 {
		return nil
	}
	if resp.Request != nil && accelTarget(resp.Request) {
		return errAccelLoop
	}
	return &accelRedirect{uri: v[0], header: resp.Header}
}

// linkAccel gives every proxy of s its server's locations to redirect to.
func (s *site) linkAccel() {
	for i := range s.locations {
		if p, ok := innermost(s.locations[i].handler).(*Proxy); ok {
			p.accel = s
			p.counted = countedBy(s.locations[i].handler)
		}
	}
}

// serveAccel answers r (the request sent upstream) with the internal
// location that a names, or 404 if none.
func (s *site) serveAccel(w http.ResponseWriter, r *http.Request, a *accelRedirect, p *Proxy) {
	path, query, ok := accelURI(a.uri)
	method := http.MethodGet
	if r.Method == http.MethodHead {
		method = http.MethodHead
	}
	var loc *location
	if ok && s != nil {
		// The location the redirected request would match: its path, GET
		// (or HEAD) and the request's headers.
		probe := &http.Request{Method: method, Header: r.Header}
		loc = s.match(path, probe)
	}
	if loc == nil || !isInternal(loc.handler) {
		problem := "no internal location serves it"
		if !ok {
			problem = "not a safe path (absolute URL, .., NUL or a bad escape)"
		}
		p.logger.Error("edge: refusing X-Accel-Redirect", "upstream", p.upstream.Name, "uri", truncate(r.RequestURI),
			"redirect", truncate(a.uri), "problem", problem, "request_id", headerValue(r.Header, HeaderRequestID))
		errpage.Write(w, http.StatusNotFound)
		return
	}
	h := w.Header()
	for _, name := range accelKeptHeaders {
		if v := a.header[name]; len(v) > 0 {
			h[name] = v
		}
	}
	w = &accelHeaderWriter{ResponseWriter: w}
	if rate, err := strconv.ParseInt(headerValue(a.header, "X-Accel-Limit-Rate"), 10, 64); err == nil && rate > 0 {
		w = &rateLimitedWriter{ResponseWriter: w, rc: http.NewResponseController(w), rate: rate, ctx: r.Context()}
	}
	r2 := r.Clone(limitzone.WithRedirected(r.Context(), p.counted))
	r2.Method = method
	r2.URL = &url.URL{Path: path, RawQuery: query}
	r2.RequestURI = a.uri
	r2.Body, r2.ContentLength, r2.TransferEncoding = http.NoBody, 0, nil
	r2.Header.Del("Content-Length")
	r2.Header.Del("Content-Type")
	loc.handler.ServeHTTP(w, r2)
}

// isInternal reports whether a location's handler is guarded as internal.
func isInternal(h http.Handler) bool {
	for {
		if _, ok := h.(internalOnly); ok {
			return true
		}
		u, ok := h.(unwrapper)
		if !ok {
			return false
		}
		h = u.Unwrap()
	}
}

// accelURI checks and decodes an X-Accel-Redirect value into a normalised
// path and its raw query.
func accelURI(v string) (path, query string, ok bool) {
	v = strings.TrimSpace(v)
	raw, query, _ := strings.Cut(v, "?")
	if raw == "" || raw[0] != '/' || strings.HasPrefix(raw, "//") {
		return "", "", false // "http://host/x", "//host/x", "@named", "x"
	}
	path, err := url.PathUnescape(raw)
	if err != nil || strings.IndexByte(path, 0) >= 0 || strings.IndexByte(path, '\\') >= 0 {
		return "", "", false
	}
	for seg := range strings.SplitSeq(path, "/") {
		if seg == ".." {
			return "", "", false // refused even where it would stay inside, as nginx
		}
	}
	path, ok = normalizePath(path)
	return path, query, ok
}

// accelSingleHeaders are the kept headers that have one value: an internal
// upstream location's own replaces the one kept from the redirect (as its
// Content-Type does in nginx), where ReverseProxy would add a second line.
var accelSingleHeaders = [...]string{"Content-Type", "Content-Disposition", "Expires", "Accept-Ranges"}

// accelHeaderWriter answers a redirected request: when its head goes out,
// each of accelSingleHeaders has one value, the last set.
type accelHeaderWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *accelHeaderWriter) WriteHeader(code int) {
	if !w.wrote {
		h := w.Header()
		for _, name := range accelSingleHeaders {
			if v := h[name]; len(v) > 1 {
				h[name] = v[len(v)-1:]
			}
		}
		w.wrote = code >= 200 // a 1xx head is followed by the real one
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *accelHeaderWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// ReadFrom keeps the connection's sendfile for a redirected file.
func (w *accelHeaderWriter) ReadFrom(r io.Reader) (int64, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return io.Copy(w.ResponseWriter, r)
}

func (w *accelHeaderWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// rateLimitedWriter sends at most rate bytes a second, as nginx's
// limit_rate: each write goes out in pieces of a tenth of a second's worth,
// each sent when the bytes before it are due. It hides the connection's
// ReadFrom (sendfile would send all at once).
type rateLimitedWriter struct {
	http.ResponseWriter
	rc    *http.ResponseController
	rate  int64 // bytes per second
	ctx   context.Context
	start time.Time
	sent  int64
}

func (w *rateLimitedWriter) Write(p []byte) (int, error) {
	if w.start.IsZero() {
		w.start = time.Now()
	}
	piece := int(max(w.rate/10, 1))
	written := 0
	for len(p) > 0 {
		// Each piece waits until the bytes before it are due, so the
		// last one ends the response without a pause after it.
		due := w.start.Add(time.Duration(float64(w.sent) / float64(w.rate) * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			w.Flush() // what was due goes out before the pause
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-w.ctx.Done():
				t.Stop()
				return written, w.ctx.Err()
			}
		}
		n, err := w.ResponseWriter.Write(p[:min(len(p), piece)])
		written += n
		w.sent += int64(n)
		p = p[n:]
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

func (w *rateLimitedWriter) Flush() { w.rc.Flush() }

func (w *rateLimitedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
