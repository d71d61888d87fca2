// Package urlpath compiles one Django path() route ("polls/<int:id>/")
// into literal and converter parts, matches a request path against it
// without regexps, converts the captured text to typed values, and builds
// the URL back from arguments (reverse). It stands alone because a route
// is a small language of its own, with its converters; the framework's
// router orders, indexes and dispatches the routes, and knows views,
// namespaces and methods, which this package does not.
package urlpath

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Part is one piece of a compiled route: literal text, or a converter.
type Part struct {
	lit     string    // literal text, when conv == nil and kind == 0
	kind    kind      // built-in converter, or kindCustom with conv set
	conv    Converter // custom converter
	noSlash bool      // the converter never matches "/"
	name    string    // parameter name
	param   int       // index of the parameter in the route's params
}

func (p *Part) isLit() bool { return p.kind == 0 && p.conv == nil }

// matches runs the part's converter on s.
func (p *Part) matches(s string) bool {
	if p.kind != kindCustom {
		return matchKind(p.kind, s)
	}
	return p.conv.Match(s)
}

// Parse splits a Django path() route into parts. Parameter indexes
// continue from first (the parameters of the prefixes it is included under).
func Parse(route string, convs map[string]Converter, first int) ([]Part, error) {
	if strings.HasPrefix(route, "/") {
		return nil, fmt.Errorf("route %q starts with /: routes are relative, as in Django (the leading / is implied)", route)
	}
	var parts []Part
	lit := func(s string) {
		if s == "" {
			return
		}
		if n := len(parts); n > 0 && parts[n-1].isLit() {
			parts[n-1].lit += s
			return
		}
		parts = append(parts, Part{lit: s})
	}
	rest := route
	for {
		i := strings.IndexByte(rest, '<')
		if i < 0 {
			if strings.IndexByte(rest, '>') >= 0 {
				return nil, fmt.Errorf("route %q has a > without a <", route)
			}
			lit(rest)
			return parts, nil
		}
		if strings.IndexByte(rest[:i], '>') >= 0 {
			return nil, fmt.Errorf("route %q has a > without a <", route)
		}
		lit(rest[:i])
		j := strings.IndexByte(rest[i:], '>')
		if j < 0 {
			return nil, fmt.Errorf("route %q has an unclosed <", route)
		}
		spec := rest[i+1 : i+j]
		rest = rest[i+j+1:]
		p, err := parseParam(route, spec, convs)
		if err != nil {
			return nil, err
		}
		p.param = first
		first++
		parts = append(parts, p)
	}
}

// parseParam parses "int:question_id" or "slug".
func parseParam(route, spec string, convs map[string]Converter) (Part, error) {
	if strings.ContainsFunc(spec, unicode.IsSpace) {
		return Part{}, fmt.Errorf("route %q cannot contain whitespace in angle brackets <%s>", route, spec)
	}
	conv, name, ok := strings.Cut(spec, ":")
	if !ok {
		conv, name = "str", spec
	}
	if !isIdentifier(name) {
		return Part{}, fmt.Errorf("route %q: parameter name %q is not an identifier", route, name)
	}
	p := Part{name: name}
	if c, ok := convs[conv]; ok {
		p.kind, p.conv = kindCustom, c
		_, p.noSlash = c.(SegmentConverter)
		return p, nil
	}
	k, ok := builtinConverters[conv]
	if !ok {
		return Part{}, fmt.Errorf("route %q uses invalid converter %q", route, conv)
	}
	p.kind = k
	p.noSlash = k != kindPath
	return p, nil
}

// isIdentifier reports whether s is a Python/Go identifier, as Django
// requires of parameter names.
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == utf8.RuneError || !(r == '_' || unicode.IsLetter(r) || i > 0 && unicode.IsDigit(r)) {
			return false
		}
	}
	return true
}

// Count returns the number of parameters in ps.
func Count(ps []Part) int {
	n := 0
	for i := range ps {
		if !ps[i].isLit() {
			n++
		}
	}
	return n
}

// Join concatenates a prefix's parts and a route's, merging the literal
// text where they meet.
func Join(prefix, parts []Part) []Part {
	all := slices.Clone(prefix)
	for _, p := range parts {
		if n := len(all); n > 0 && p.isLit() && all[n-1].isLit() {
			all[n-1].lit += p.lit
			continue
		}
		all = append(all, p)
	}
	return all
}

// DuplicateParam returns a parameter name that appears twice in ps, or "".
func DuplicateParam(ps []Part) string {
	seen := map[string]bool{}
	for _, p := range ps {
		if p.isLit() {
			continue
		}
		if seen[p.name] {
			return p.name
		}
		seen[p.name] = true
	}
	return ""
}
