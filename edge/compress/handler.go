package compress

import (
	"net/http"
	"strings"
	"sync"
)

// Handler compresses the responses of the handler it wraps, for clients
// that accept gzip or zstd, when a response qualifies:
//   - its status has a body worth it (not 1xx, 204, 205, 206 or 304), the
//     request is not HEAD, and it carries no Content-Encoding of its own
//     (never compressed twice: an upstream's gzip or a precompressed file
//     passes as it is) and no Cache-Control: no-transform;
//   - its Content-Type is in the configured types;
//   - it is at least min_length long: by its Content-Length, or, without
//     one, by holding its first min_length bytes before deciding.
//
// Such a response gets Vary: Accept-Encoding, compressed or not, so that
// a cache keeps the variants apart. It is compressed unless the request
// has a Range (ranges count bytes of the identity body), and then loses
// its Content-Length and Accept-Ranges, and its ETag becomes weak: the
// compressed bytes are another representation of the same content
// (nginx does the same).
//
// The compressed stream ends only when the wrapped handler returns
// normally. A handler that panics (ReverseProxy aborts a response whose
// upstream was cut) leaves the stream without its end, so the client sees
// a broken body, never a complete-looking one.
type Handler struct {
	next      http.Handler
	offered   Set
	minLength int64
	types     typeList
	writers   sync.Pool
}

// typeList is a parsed types setting.
type typeList []typePattern

type typePattern struct {
	name string // "text/" for text/*, else the whole type
	top  bool
}

func parseTypes(types []string) typeList {
	var l typeList
	for _, t := range types {
		if top, ok := strings.CutSuffix(t, "*"); ok {
			l = append(l, typePattern{name: top, top: true})
		} else {
			l = append(l, typePattern{name: t})
		}
	}
	return l
}

var defaultTypes = parseTypes(DefaultTypes)

// Compressible reports whether a Content-Type is among DefaultTypes:
// text that compression shrinks, not images or archives compressed
// already (collectstatic --compress asks it).
func Compressible(contentType string) bool { return defaultTypes.listed(contentType) }

// New wraps next; c has at least one of gzip or zstd on and is valid.
func New(c Config, next http.Handler) *Handler {
	h := &Handler{next: next, minLength: c.MinLength}
	if c.Gzip {
		h.offered |= Of(Gzip)
	}
	if c.Zstd {
		h.offered |= Of(Zstd)
	}
	h.types = parseTypes(c.Types)
	h.writers.New = func() any { return new(responseWriter) }
	return h
}

// Unwrap returns the wrapped handler.
func (h *Handler) Unwrap() http.Handler { return h.next }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodHead {
		// Untouched, as nginx leaves it: a HEAD response's headers
		// describe the identity body.
		h.next.ServeHTTP(w, r)
		return
	}
	cw := h.writers.Get().(*responseWriter)
	*cw = responseWriter{
		ResponseWriter: w,
		h:              h,
		accept:         r.Header["Accept-Encoding"],
		ranged:         r.Header["Range"] != nil,
		inm:            r.Header["If-None-Match"],
	}
	finished := false
	defer func() {
		if !finished {
			cw.abandon() // a panic: the stream stays unended
		}
		*cw = responseWriter{}
		h.writers.Put(cw)
	}()
	h.next.ServeHTTP(cw, r)
	cw.finish()
	finished = true
}

// eligible reports whether a response with this status and header is
// one to compress (for a client that accepts it).
func (h *Handler) eligible(status int, hdr http.Header) bool {
	switch status {
	case http.StatusNoContent, http.StatusResetContent, http.StatusPartialContent, http.StatusNotModified:
		return false
	}
	if ce := hdr["Content-Encoding"]; len(ce) > 0 {
		return false
	}
	for _, v := range hdr["Cache-Control"] {
		if hasToken(v, "no-transform") {
			return false
		}
	}
	ct := hdr["Content-Type"]
	if len(ct) == 0 {
		return false
	}
	return h.types.listed(ct[0])
}

// listed matches a Content-Type value (parameters and case aside)
// against the types.
func (l typeList) listed(ct string) bool {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	for _, p := range l {
		if p.top {
			if len(ct) > len(p.name) && strings.EqualFold(ct[:len(p.name)], p.name) {
				return true
			}
		} else if len(ct) == len(p.name) && strings.EqualFold(ct, p.name) {
			return true
		}
	}
	return false
}

// hasToken reports whether the comma-separated list v names tok.
func hasToken(v, tok string) bool {
	for v != "" {
		var t string
		t, v, _ = strings.Cut(v, ",")
		if i := strings.IndexByte(t, '='); i >= 0 {
			t = t[:i]
		}
		if strings.EqualFold(strings.TrimSpace(t), tok) {
			return true
		}
	}
	return false
}

var varyAcceptEncoding = []string{"Accept-Encoding"}

// AddVary adds Accept-Encoding to hdr's Vary unless it is there already
// (or Vary is "*"). It never changes a value slice in place: header
// values may be shared (the static cache's are).
func AddVary(hdr http.Header) {
	vs := hdr["Vary"]
	for _, v := range vs {
		if hasToken(v, "Accept-Encoding") || hasToken(v, "*") {
			return
		}
	}
	if len(vs) == 0 {
		hdr["Vary"] = varyAcceptEncoding
		return
	}
	hdr["Vary"] = append(vs[:len(vs):len(vs)], "Accept-Encoding")
}
