package urlpath

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNoReverseMatch is wrapped by every Reverse failure, as Django's
// NoReverseMatch: an unknown name, or arguments that fit none of the
// patterns with that name (wrong number, wrong type, or a value its
// converter rejects).
var ErrNoReverseMatch = errors.New("no reverse match")

// Kwargs passes Reverse arguments by parameter name, Django's
// reverse(..., kwargs={...}): Reverse("polls:detail", Kwargs{"question_id": 5}).
type Kwargs map[string]any

// Build fills r's parameters with args (positional) or kw and
// percent-encodes the result: the URL path, starting with "/".
func (r *Route) Build(args []any, kw Kwargs) (string, error) {
	if kw != nil {
		if len(kw) != r.NParams {
			return "", fmt.Errorf("wants %d keyword arguments, got %d", r.NParams, len(kw))
		}
	} else if len(args) != r.NParams {
		return "", fmt.Errorf("wants %d arguments, got %d", r.NParams, len(args))
	}
	var b strings.Builder
	b.Grow(len(r.Pattern) + 16)
	b.WriteByte('/')
	for i := range r.Parts {
		p := &r.Parts[i]
		if p.isLit() {
			EscapePath(&b, p.lit)
			continue
		}
		var v any
		if kw != nil {
			var ok bool
			if v, ok = kw[p.name]; !ok {
				return "", fmt.Errorf("no value for %q", p.name)
			}
		} else {
			v = args[p.param]
		}
		s, err := p.toURL(v)
		if err != nil {
			return "", fmt.Errorf("%s: %w", p.name, err)
		}
		EscapePath(&b, s)
	}
	u := b.String()
	if strings.HasPrefix(u, "//") {
		// "//host" in a Location or href would leave the site.
		u = "/%2F" + u[2:]
	}
	return u, nil
}

// toURL converts one Reverse argument with the part's converter and checks
// that the converter would match the text back.
func (p *Part) toURL(v any) (string, error) {
	if p.kind != kindCustom {
		return kindToURL(p.kind, v)
	}
	s, err := p.conv.ToURL(v)
	if err != nil {
		return "", err
	}
	if !p.conv.Match(s) || p.noSlash && strings.IndexByte(s, '/') >= 0 {
		return "", fmt.Errorf("%q does not match its converter", s)
	}
	return s, nil
}

// pathSafe are the bytes Django's reverse leaves unescaped: RFC 3986
// unreserved characters, sub-delimiters, and "/", ":", "@".
var pathSafe = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-._~!$&'()*+,;=/:@" {
		t[c] = true
	}
	return t
}()

// EscapePath writes s percent-encoded for a URL path, as Django's reverse
// (and {% static %}) do.
func EscapePath(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if pathSafe[c] {
			continue
		}
		b.WriteString(s[start:i])
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
		start = i + 1
	}
	b.WriteString(s[start:])
}
