// Package hostmatch chooses among named servers by a request's Host or a
// TLS handshake's SNI, as nginx chooses a server block: an exact name
// first, then the longest leading wildcard (*.example.com), then the
// default. The edge routes requests with it (edge/vhost.go) and the
// certificate manager picks certificates with it, so that a Host and an
// SNI naming the same server always agree.
package hostmatch

import (
	"fmt"
	"iter"
	"net/netip"
	"strings"
)

// Table maps server names to values of T.
type Table[T any] struct {
	exact    map[string]T // "a.example.com"
	wildcard map[string]T // ".example.com" for "*.example.com"
	longest  int          // the longest key of wildcard
	def      T
	hasDef   bool
}

// Add registers v under name (as written in stack.yaml; ParseName says
// why a name is refused).
func (t *Table[T]) Add(name string, v T) error {
	n, err := ParseName(name)
	if err != nil {
		return err
	}
	if t.exact == nil {
		t.exact, t.wildcard = map[string]T{}, map[string]T{}
	}
	if rest, ok := strings.CutPrefix(n, "*"); ok {
		t.wildcard[rest] = v
		t.longest = max(t.longest, len(rest))
	} else {
		t.exact[n] = v
	}
	return nil
}

// SetDefault makes v the answer for a name nothing else matches.
func (t *Table[T]) SetDefault(v T) { t.def, t.hasDef = v, true }

// Lookup returns the value for host: a Host header ("A.example.com:8000",
// "[::1]:8000", "") or an SNI name. ok is false when no name matches and
// there is no default. It allocates nothing unless host has upper-case
// letters.
func (t *Table[T]) Lookup(host string) (v T, ok bool) {
	h := Canonical(host)
	if v, ok := t.exact[h]; ok {
		return v, true
	}
	if strings.HasPrefix(h, "[") {
		// An IPv6 address is named in its canonical form ([::1]), which a
		// client need not use ([0:0::1]); an address matches no wildcard.
		if a, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil && a.Is6() && a.Zone() == "" {
			if v, ok := t.exact["["+a.String()+"]"]; ok {
				return v, true
			}
		}
		return t.def, t.hasDef
	}
	for s := range t.suffixes(h) {
		if v, ok := t.wildcard[s]; ok {
			return v, true
		}
	}
	return t.def, t.hasDef
}

// suffixes yields the parts of h a wildcard may match, longest first:
// a.b.example.com gives .b.example.com, .example.com, .com. Only those no
// longer than the longest wildcard can be in the table: a Host of
// thousands of labels (edge.max_header_size allows 32 KiB) would
// otherwise cost a map lookup per label, each hashing the rest of the
// Host, quadratic in its length (7 ms of CPU per request at 32 KiB).
func (t *Table[T]) suffixes(h string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := max(1, len(h)-t.longest); i < len(h); i++ {
			if h[i] == '.' && !yield(h[i:]) {
				return
			}
		}
	}
}

// Canonical is a Host's name as the table keys it: without the port, the
// trailing dot or upper case; "[::1]" for "[::1]:8000".
func Canonical(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			h = h[:i+1]
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if 'A' <= h[i] && h[i] <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}

// ParseName returns a server name as the table keys it: lower case,
// without a trailing dot, "*.example.com" for a wildcard, an IPv6 address
// in brackets; or why the name cannot match any Host.
func ParseName(n string) (string, error) {
	s := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(n), "."))
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil && a.Is6() && a.Zone() == "" {
		return "[" + a.String() + "]", nil
	}
	rest, wild := strings.CutPrefix(s, "*.")
	switch {
	case s == "":
		return "", fmt.Errorf("is empty")
	case s == "*" || s == "_":
		return "", fmt.Errorf("%q matches no Host; the server that takes every unknown host says default: true", n)
	case strings.Contains(rest, "*"):
		return "", fmt.Errorf("%q: only a leading wildcard is supported, as *.example.com", n)
	case strings.HasPrefix(s, "."):
		return "", fmt.Errorf("%q: write example.com and *.example.com for a domain and its subdomains", n)
	case strings.Contains(s, ":"):
		return "", fmt.Errorf("%q: a name has no port (the ports are edge.listen's)", n)
	case wild && rest == "":
		return "", fmt.Errorf("%q has nothing after the wildcard", n)
	}
	for _, label := range strings.Split(rest, ".") {
		if label == "" {
			return "", fmt.Errorf("%q has an empty label", n)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return "", fmt.Errorf("%q: %q is not allowed in a host name (write an internationalised name in its xn-- form)", n, r)
			}
		}
	}
	return s, nil
}

// Valid reports whether a Host (or an :authority, or an absolute-form
// target's host) is one the edge routes; the request is answered 400
// otherwise, as RFC 9112 3.2 asks for "a Host header field with an
// invalid field value". "" (an HTTP/1.0 request without one) is valid:
// it goes to the default server. It checks the shape, not the bytes
// (the fronts check those): nginx's ngx_http_validate_host refuses an
// empty label ("a..b") and an empty name (":80", "."), and so does
// Valid; nginx also takes whatever follows the first ':' and an
// unclosed '[', which Valid refuses, because Lookup would read those
// otherwise than the app does: "a.test:80:80" went to the default
// server (its last ':' was taken for the port's) while reaching the
// app as a.test's, and "[::1" was routed as [::1]. So the port is
// digits after the name's ':' or the IP literal's ']', and '[' and ']'
// only enclose an IP literal.
func Valid(h string) bool {
	if h == "" {
		return true
	}
	name, port := h, ""
	if h[0] == '[' {
		end := strings.IndexByte(h, ']')
		if end < 2 { // unclosed, or "[]"
			return false
		}
		name, port = h[1:end], h[end+1:]
		if port != "" && port[0] != ':' {
			return false // "[::1]x"
		}
	} else {
		if i := strings.IndexByte(h, ':'); i >= 0 {
			name, port = h[:i], h[i:]
		}
		if strings.TrimSuffix(name, ".") == "" || strings.Contains(name, "..") {
			return false
		}
	}
	if strings.ContainsAny(name, "[]") {
		return false
	}
	for i := 1; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
	}
	return true
}
