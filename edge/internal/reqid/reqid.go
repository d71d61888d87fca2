// Package reqid makes and checks request ids, nginx's $request_id: 32 hex
// digits (128 random bits) per request. It stands alone because the edge's
// request path and its access log both make them, and neither should own
// the other.
package reqid

import "math/rand/v2"

// Header carries the id to the app (and from a trusted proxy).
const Header = "X-Request-Id"

// maxLen bounds a kept id; a longer one is replaced.
const maxLen = 128

// New returns a fresh id. math/rand/v2's global source is the
// runtime's per-thread ChaCha8: no lock, no allocation; the string is the
// only one.
func New() string {
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

// Valid accepts what ids are made of (hex, UUIDs, base64,
// Heroku's and AWS's forms), so a kept id is safe in every log format
// and uwsgi variable.
func Valid(s string) bool {
	if len(s) == 0 || len(s) > maxLen {
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
