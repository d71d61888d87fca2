package framework

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// route is one compiled, flattened pattern: an Include's prefix is
// concatenated into each of its routes at start-up, so that dispatch is a
// single ordered scan with no recursion into resolvers.
type route struct {
	parts      []part
	nparams    int
	pattern    string // the full route text, "polls/<int:question_id>/"
	full       string // "/" + pattern, for RouteInfo and http.Request.Pattern
	name       string // qualified name, "polls:detail"; "" when unnamed
	view       View
	handler    http.Handler // for a Mount
	mount      bool
	methods    []string // nil: any method
	allow      string   // the Allow header for 405
	csrfExempt bool
	viewName   string
	index      int
}

// router finds the first route matching a path, in pattern order, without
// regexps: each route is a list of literal and converter parts matched by
// prefix comparison and byte scans. Routes whose first path segment is
// literal are indexed by it, so a request only tries the routes that can
// match its first segment (and, in order, those that start with a
// parameter).
type router struct {
	routes    []*route
	byFirst   map[string][]*route // first literal segment → candidate routes, in order
	dynamic   []*route            // routes whose first segment is not literal
	byName    map[string][]*route // qualified name → routes, in pattern order
	maxParams int
}

// compile flattens and compiles patterns.
func compile(patterns []Pattern, convs map[string]Converter) (*router, error) {
	rt := &router{byFirst: map[string][]*route{}, byName: map[string][]*route{}}
	var errs []string
	var walk func(ps []Pattern, prefix []part, prefixText, ns string, methods []string, exempt bool)
	walk = func(ps []Pattern, prefix []part, prefixText, ns string, methods []string, exempt bool) {
		for _, p := range ps {
			parts, err := parseRoute(p.route, convs, countParams(prefix))
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			all := joinParts(prefix, parts)
			text := prefixText + p.route
			if dup := duplicateParam(all); dup != "" {
				errs = append(errs, fmt.Sprintf("route %q: parameter %q appears twice", text, dup))
				continue
			}
			ms := methods
			if p.methods != nil {
				ms = normMethods(p.methods)
			}
			ex := exempt || p.csrfExempt
			switch p.kind {
			case kindInclude:
				sub := ns
				if p.namespace != "" {
					sub = qualify(ns, p.namespace)
				}
				walk(p.children, all, text, sub, ms, ex)
				continue
			case kindView:
				if p.view == nil {
					errs = append(errs, fmt.Sprintf("route %q: nil view", text))
					continue
				}
			case kindMount:
				if p.handler == nil {
					errs = append(errs, fmt.Sprintf("route %q: nil handler", text))
					continue
				}
			}
			r := &route{
				parts: all, nparams: countParams(all), pattern: text, full: "/" + text,
				view: p.view, handler: p.handler, mount: p.kind == kindMount,
				methods: ms, csrfExempt: ex, index: len(rt.routes),
			}
			if ms != nil {
				r.allow = allowHeader(ms)
			}
			if p.name != "" {
				r.name = qualify(ns, p.name)
				rt.byName[r.name] = append(rt.byName[r.name], r)
			}
			if r.mount {
				r.viewName = fmt.Sprintf("%T", p.handler)
			} else {
				r.viewName = funcName(p.view)
			}
			rt.maxParams = max(rt.maxParams, r.nparams)
			rt.routes = append(rt.routes, r)
		}
	}
	walk(patterns, nil, "", "", nil, false)
	if errs != nil {
		return nil, fmt.Errorf("framework: URL patterns:\n\t%s", strings.Join(errs, "\n\t"))
	}
	rt.index()
	return rt, nil
}

// index builds byFirst and dynamic, keeping pattern order in every list.
func (rt *router) index() {
	keys := map[*route]string{}
	for _, r := range rt.routes {
		if k, ok := firstSegment(r); ok {
			keys[r] = k
			rt.byFirst[k] = nil
		}
	}
	for _, r := range rt.routes {
		k, literal := keys[r]
		if !literal {
			rt.dynamic = append(rt.dynamic, r)
		}
		for key := range rt.byFirst {
			if !literal || key == k {
				rt.byFirst[key] = append(rt.byFirst[key], r)
			}
		}
	}
}

// firstSegment returns the literal first path segment every match of r
// has, if it is fixed.
func firstSegment(r *route) (string, bool) {
	if len(r.parts) == 0 {
		return "", !r.mount
	}
	p := r.parts[0]
	if !p.isLit() {
		return "", false
	}
	if i := strings.IndexByte(p.lit, '/'); i >= 0 {
		return p.lit[:i], true
	}
	if len(r.parts) == 1 && !r.mount {
		return p.lit, true
	}
	return "", false
}

// find returns the first route matching path (r.URL.Path, with its leading
// "/"), filling ps[:route.nparams] with its parameters, and for a mount the
// unmatched rest of the path. ps must have room for maxParams.
func (rt *router) find(path string, ps []Param) (*route, string) {
	if path == "" || path[0] != '/' {
		return nil, ""
	}
	s := path[1:]
	seg := s
	if i := strings.IndexByte(s, '/'); i >= 0 {
		seg = s[:i]
	}
	cands, ok := rt.byFirst[seg]
	if !ok {
		cands = rt.dynamic
	}
	for _, r := range cands {
		params := ps[:r.nparams]
		rest, ok := r.matchAt(0, s, params)
		if ok && r.convert(params) {
			return r, rest
		}
	}
	return nil, ""
}

// matchAt matches parts[i:] against s. A converter followed by literal
// text tries the longest candidate first and backtracks, which is what the
// regex Django builds from the route does.
func (r *route) matchAt(i int, s string, ps []Param) (string, bool) {
	if i == len(r.parts) {
		if s == "" || r.mount {
			return s, true
		}
		return "", false
	}
	p := &r.parts[i]
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
	if i+1 == len(r.parts) && !r.mount {
		// The last part takes the whole rest.
		if limit != len(s) || !p.matches(s) {
			return "", false
		}
		ps[p.param] = Param{Name: p.name, Raw: s}
		return "", true
	}
	next := ""
	if i+1 < len(r.parts) && r.parts[i+1].isLit() {
		next = r.parts[i+1].lit
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

// convert runs the converters' ToValue on matched text. A failure means the
// route does not match (Django's ValueError in to_python).
func (r *route) convert(ps []Param) bool {
	for i := range r.parts {
		p := &r.parts[i]
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

// allows reports whether method may use r.
func (r *route) allows(method string) bool {
	if r.methods == nil {
		return true
	}
	for _, m := range r.methods {
		if m == method || m == http.MethodGet && method == http.MethodHead {
			return true
		}
	}
	return false
}

func countParams(ps []part) int {
	n := 0
	for i := range ps {
		if !ps[i].isLit() {
			n++
		}
	}
	return n
}

// joinParts concatenates a prefix's parts and a route's, merging the
// literal text where they meet.
func joinParts(prefix, parts []part) []part {
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

func duplicateParam(ps []part) string {
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

func qualify(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + ":" + name
}

func normMethods(ms []string) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		m = strings.ToUpper(m)
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

func allowHeader(ms []string) string {
	all := slices.Clone(ms)
	if slices.Contains(all, http.MethodGet) && !slices.Contains(all, http.MethodHead) {
		all = append(all, http.MethodHead)
	}
	return strings.Join(all, ", ")
}
