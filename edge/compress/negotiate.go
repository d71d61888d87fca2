package compress

import "strings"

// Coding is a content coding the edge produces or serves.
type Coding uint8

const (
	Identity Coding = iota
	Gzip
	Brotli // served from precompressed files only
	Zstd
	numCodings
)

// preference orders codings the client likes equally: zstd first (the
// fastest to decode and, at the levels used, to encode), then brotli, then
// gzip, as Caddy's encode and file_server prefer them.
var preference = [...]Coding{Zstd, Brotli, Gzip}

// String is the coding's token, as in Content-Encoding.
func (c Coding) String() string {
	switch c {
	case Gzip:
		return "gzip"
	case Brotli:
		return "br"
	case Zstd:
		return "zstd"
	}
	return "identity"
}

// Ext is the file extension of a precompressed file in this coding.
func (c Coding) Ext() string {
	switch c {
	case Gzip:
		return ".gz"
	case Brotli:
		return ".br"
	case Zstd:
		return ".zst"
	}
	return ""
}

// Set is a set of codings.
type Set uint8

// Of makes a set.
func Of(cs ...Coding) Set {
	var s Set
	for _, c := range cs {
		s |= 1 << c
	}
	return s
}

// Has reports whether c is in s.
func (s Set) Has(c Coding) bool { return s&(1<<c) != 0 }

// Negotiate returns the coding among offered that the Accept-Encoding
// header values ae prefer (RFC 9110 §12.5.3), or Identity:
//   - a coding's weight is its own q, else that of "*", else 0; q=0 means
//     not acceptable;
//   - the highest weight wins; at equal weights zstd, then br, then gzip;
//   - "x-gzip" is gzip; unknown codings and malformed elements are ignored;
//   - identity competes only when the client names it (or "*"): with
//     "gzip;q=0.5, identity" the client prefers the body as it is.
//
// When the client refuses identity and accepts nothing offered, the answer
// is still Identity: an uncompressed body, as nginx and Caddy send, rather
// than a 406 that helps nobody.
//
// It does not allocate.
func Negotiate(ae []string, offered Set) Coding {
	var q [numCodings]int // in thousandths; -1: not named
	for i := range q {
		q[i] = -1
	}
	star := -1
	for _, v := range ae {
		for v != "" {
			var elem string
			elem, v, _ = strings.Cut(v, ",")
			name, params, _ := strings.Cut(elem, ";")
			name = strings.TrimSpace(name)
			w, ok := weight(params)
			if !ok || name == "" {
				continue
			}
			var c Coding
			switch {
			case strings.EqualFold(name, "gzip"), strings.EqualFold(name, "x-gzip"):
				c = Gzip
			case strings.EqualFold(name, "zstd"):
				c = Zstd
			case strings.EqualFold(name, "br"):
				c = Brotli
			case strings.EqualFold(name, "identity"):
				c = Identity
			case name == "*":
				if star < 0 {
					star = w
				}
				continue
			default:
				continue
			}
			if q[c] < 0 { // the first mention counts
				q[c] = w
			}
		}
	}
	best, bestQ := Identity, 0
	for _, c := range preference {
		if !offered.Has(c) {
			continue
		}
		w := q[c]
		if w < 0 {
			w = star
		}
		if w > bestQ {
			best, bestQ = c, w
		}
	}
	if best == Identity {
		return Identity
	}
	if id := q[Identity]; id < 0 && star >= 0 {
		q[Identity] = star
	}
	if q[Identity] > bestQ {
		return Identity
	}
	return best
}

// weight parses an element's parameters (after the first ';') for its
// q-value, in thousandths; no q is 1000. ok is false for a malformed one.
func weight(params string) (int, bool) {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, _ := strings.Cut(p, "=")
		if !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		return qvalue(strings.TrimSpace(v))
	}
	return 1000, true
}

// qvalue parses "0", "0.5", "1", "1.000" (RFC 9110's qvalue: at most
// three decimals, at most 1).
func qvalue(s string) (int, bool) {
	if s == "" || (s[0] != '0' && s[0] != '1') {
		return 0, false
	}
	n := int(s[0]-'0') * 1000
	rest := s[1:]
	if rest == "" {
		return n, true
	}
	if rest[0] != '.' || len(rest) > 4 {
		return 0, false
	}
	scale := 100
	for i := 1; i < len(rest); i++ {
		d := rest[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		n += int(d-'0') * scale
		scale /= 10
	}
	if n > 1000 {
		return 0, false
	}
	return n, true
}
