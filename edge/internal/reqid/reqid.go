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
	var b [Len]byte
	Fill(&b)
	return string(b[:])
}

// Len is the length of a fresh id.
const Len = 32

// Fill writes a fresh id into b, for a caller that keeps its bytes (and
// makes the string of them itself, without an allocation).
func Fill(b *[Len]byte) {
	const hex = "0123456789abcdef"
	for half := 0; half < 2; half++ {
		v := rand.Uint64()
		for i := 0; i < 16; i++ {
			b[half*16+i] = hex[v&15]
			v >>= 4
		}
	}
}

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
