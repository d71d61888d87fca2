package edge

import (
	"net/http"
	"net/url"

	"github.com/stack-web/stack/edge/internal/accel"
	"github.com/stack-web/stack/edge/internal/errpage"
	"github.com/stack-web/stack/edge/internal/limitzone"
)

// X-Accel-Redirect (edge/internal/accel says what it is): an internal
// location answers only redirected requests, and a proxy's response that
// asks for a redirect is served by the internal location of its server
// that the URI matches.

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

// checkAccel is modifyResponse's first step: a response that asks for a
// redirect becomes an *accel.Redirect error.
func checkAccel(resp *http.Response) error {
	v := resp.Header["X-Accel-Redirect"]
	if len(v) == 0 {
		return nil
	}
	if resp.Request != nil && accelTarget(resp.Request) {
		return accel.ErrLoop
	}
	return &accel.Redirect{URI: v[0], Header: resp.Header}
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
func (s *site) serveAccel(w http.ResponseWriter, r *http.Request, a *accel.Redirect, p *Proxy) {
	path, query, ok := accel.URI(a.URI)
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
			"redirect", truncate(a.URI), "problem", problem, "request_id", headerValue(r.Header, HeaderRequestID))
		errpage.Write(w, http.StatusNotFound)
		return
	}
	w = a.Writer(w, r.Context())
	r2 := r.Clone(limitzone.WithRedirected(r.Context(), p.counted))
	r2.Method = method
	r2.URL = &url.URL{Path: path, RawQuery: query}
	r2.RequestURI = a.URI
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
