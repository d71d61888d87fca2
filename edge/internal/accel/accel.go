// Package accel is X-Accel-Redirect's mechanism: checking and decoding
// the URI an app redirects to, and the writer that answers the redirected
// request (the upstream's headers nginx keeps, X-Accel-Limit-Rate). It
// stands alone because it needs nothing of the edge's locations; which
// location serves the URI, and whether it is internal, is the edge's
// decision (its accel.go).
package accel

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stack-web/stack/edge/internal/urlpath"
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

// keptHeaders are the upstream headers the redirected answer keeps.
var keptHeaders = [...]string{"Content-Type", "Content-Disposition", "Cache-Control", "Expires", "Set-Cookie", "Accept-Ranges"}

// Redirect is the upstream's X-Accel-Redirect, carried from the
// proxy's response hook to its error handler (ReverseProxy's way out of a response).
type Redirect struct {
	URI    string      // the header's value
	Header http.Header // the upstream response's
}

func (a *Redirect) Error() string { return "X-Accel-Redirect: " + a.URI }

// ErrLoop: a redirected request's upstream asked for another redirect.
var ErrLoop = errors.New("X-Accel-Redirect from a request already redirected")

// Writer is w for the redirected request's answer: it carries the
// upstream's kept headers, each single-valued one once, and is paced by
// X-Accel-Limit-Rate (until ctx ends) when the upstream sent one.
func (a *Redirect) Writer(w http.ResponseWriter, ctx context.Context) http.ResponseWriter {
	h := w.Header()
	for _, name := range keptHeaders {
		if v := a.Header[name]; len(v) > 0 {
			h[name] = v
		}
	}
	w = &headerWriter{ResponseWriter: w}
	if rate, err := strconv.ParseInt(headerValue(a.Header, "X-Accel-Limit-Rate"), 10, 64); err == nil && rate > 0 {
		w = &rateLimitedWriter{ResponseWriter: w, rc: http.NewResponseController(w), rate: rate, ctx: ctx}
	}
	return w
}

func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// URI checks and decodes an X-Accel-Redirect value into a normalised
// path and its raw query.
func URI(v string) (path, query string, ok bool) {
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
	path, ok = urlpath.Normalize(path)
	return path, query, ok
}

// singleHeaders are the kept headers that have one value: an internal
// upstream location's own replaces the one kept from the redirect (as its
// Content-Type does in nginx), where ReverseProxy would add a second line.
var singleHeaders = [...]string{"Content-Type", "Content-Disposition", "Expires", "Accept-Ranges"}

// headerWriter answers a redirected request: when its head goes out,
// each of singleHeaders has one value, the last set.
type headerWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *headerWriter) WriteHeader(code int) {
	if !w.wrote {
		h := w.Header()
		for _, name := range singleHeaders {
			if v := h[name]; len(v) > 1 {
				h[name] = v[len(v)-1:]
			}
		}
		w.wrote = code >= 200 // a 1xx head is followed by the real one
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *headerWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// ReadFrom keeps the connection's sendfile for a redirected file.
func (w *headerWriter) ReadFrom(r io.Reader) (int64, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return io.Copy(w.ResponseWriter, r)
}

func (w *headerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

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
