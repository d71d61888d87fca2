package urlpath

import (
	"strconv"
	"strings"
)

// Route is one compiled route: literal and converter parts matched by
// prefix comparison and byte scans, without regexps.
type Route struct {
	Parts   []Part
	NParams int
	Pattern string // the route text, "polls/<int:question_id>/"
	Mount   bool   // a prefix: Match returns the unmatched rest of the path
}

// Param is one URL parameter captured by a converter.
type Param struct {
	Name string // the name in <int:name>
	Raw  string // the matched text, percent-decoded

	kind kind
	n    int
	v    any
}

// Value returns the converter's value: an int for int, a string for str,
// slug, uuid and path, whatever ToValue returned for a custom converter.
func (p Param) Value() any {
	switch p.kind {
	case kindInt:
		return p.n
	case kindCustom:
		return p.v
	}
	return p.Raw
}

// Int returns the value of the <int:name> parameter (or a custom
// converter's int) among ps, 0 if there is none: Request.Int.
func Int(ps []Param, name string) int {
	for i := range ps {
		p := &ps[i]
		if p.Name != name {
			continue
		}
		if p.kind == kindInt {
			return p.n
		}
		n, _ := p.v.(int)
		return n
	}
	return 0
}

// FirstSegment returns the literal first path segment every match of r
// has, if it is fixed (the router indexes routes by it).
func (r *Route) FirstSegment() (string, bool) {
	if len(r.Parts) == 0 {
		return "", !r.Mount
	}
	p := r.Parts[0]
	if !p.isLit() {
		return "", false
	}
	if i := strings.IndexByte(p.lit, '/'); i >= 0 {
		return p.lit[:i], true
	}
	if len(r.Parts) == 1 && !r.Mount {
		return p.lit, true
	}
	return "", false
}

// Match matches the route against s (the path without its leading "/"),
// filling ps[:r.NParams] with the matched text, and returns, for a Mount,
// the unmatched rest. The values are not converted yet: see Convert.
func (r *Route) Match(s string, ps []Param) (string, bool) { return r.matchAt(0, s, ps) }

// matchAt matches parts[i:] against s. A converter followed by literal
// text tries the longest candidate first and backtracks, which is what the
// regex Django builds from the route does.
func (r *Route) matchAt(i int, s string, ps []Param) (string, bool) {
	if i == len(r.Parts) {
		if s == "" || r.Mount {
			return s, true
		}
		return "", false
	}
	p := &r.Parts[i]
	if p.isLit() {
		if !strings.HasPrefix(s, p.lit) {
			return "", false
		}
		return r.matchAt(i+1, s[len(p.lit):], ps)
	}
	limit := len(s)
	if p.noSlash {
		if j := strings.IndexByte(s, '/'); j >= 0 {
			limit = j
		}
	}
	if i+1 == len(r.Parts) && !r.Mount {
		// The last part takes the whole rest.
		if limit != len(s) || !p.matches(s) {
			return "", false
		}
		ps[p.param] = Param{Name: p.name, Raw: s}
		return "", true
	}
	next := ""
	if i+1 < len(r.Parts) && r.Parts[i+1].isLit() {
		next = r.Parts[i+1].lit
	}
	for hi := limit; hi >= 0; {
		e := hi
		if next != "" {
			e = strings.LastIndex(s[:min(hi+len(next), len(s))], next)
			if e < 0 {
				return "", false
			}
		}
		if cand := s[:e]; p.matches(cand) {
			ps[p.param] = Param{Name: p.name, Raw: cand}
			if rest, ok := r.matchAt(i+1, s[e:], ps); ok {
				return rest, true
			}
		}
		hi = e - 1
	}
	return "", false
}

// Convert runs the converters' ToValue on matched text. A failure means the
// route does not match (Django's ValueError in to_python).
func (r *Route) Convert(ps []Param) bool {
	for i := range r.Parts {
		p := &r.Parts[i]
		if p.isLit() {
			continue
		}
		q := &ps[p.param]
		q.kind = p.kind
		switch p.kind {
		case kindInt:
			n, err := strconv.Atoi(q.Raw)
			if err != nil {
				return false
			}
			q.n = n
		case kindCustom:
			v, err := p.conv.ToValue(q.Raw)
			if err != nil {
				return false
			}
			q.v = v
		}
	}
	return true
}
