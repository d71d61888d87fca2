package edge

import (
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
)

// Request ids (issue 9): the edge gives every request an id, nginx's
// $request_id: 32 hex digits (128 random bits), or keeps the one a
// trusted proxy in front sent in X-Request-Id, so one id follows a
// request through every tier. The app receives it as the header
// X-Request-Id and the uwsgi variable STACK_REQUEST_ID; the edge's JSON
// access log and error lines and the app server's lines carry it.

// HeaderRequestID carries the id to the app (and from a trusted proxy).
const HeaderRequestID = "X-Request-Id"

// maxRequestID bounds a kept id; a longer one is replaced.
const maxRequestID = 128

// newRequestID returns a fresh id. math/rand/v2's global source is the
// runtime's per-thread ChaCha8: no lock, no allocation; the string is the
// only one.
func newRequestID() string {
	const hex = "0123456789abcdef"
	var b [32]byte
	for half := 0; half < 2; half++ {
		v := rand.Uint64()
		for i := 0; i < 16; i++ {
			b[half*16+i] = hex[v&15]
			v >>= 4
		}
	}
	return string(b[:])
}

// setRequestID decides r's id, records it in w for the logs, and puts it
// in r's header for the upstream, replacing what an untrusted client sent
// (a client must not choose the id other tiers' logs are searched by).
// The header's one-element slice lives in w, so setting it costs nothing.
func (w *clientWriter) setRequestID(r *http.Request, trust proxyTrust) {
	id := ""
	if v := r.Header[HeaderRequestID]; len(v) == 1 && len(trust) > 0 && validRequestID(v[0]) {
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			if peer, err := netip.ParseAddr(host); err == nil && trust.trusts(peer) {
				id = v[0]
			}
		}
	}
	if id == "" {
		id = newRequestID()
	}
	w.requestID = id
	w.idHeader[0] = id
	r.Header[HeaderRequestID] = w.idHeader[:]
}

// validRequestID accepts what ids are made of (hex, UUIDs, base64,
// Heroku's and AWS's forms), so a kept id is safe in every log format
// and uwsgi variable.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > maxRequestID {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c == '-', c == '_', c == '.', c == ':', c == '+', c == '/', c == '=', c == '@':
		default:
			return false
		}
	}
	return true
}
