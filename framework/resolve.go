package framework

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/stack-web/stack/framework/internal/urlpath"
)

// route is one compiled, flattened pattern: an Include's prefix is
// concatenated into each of its routes at start-up, so that dispatch is a
// single ordered scan with no recursion into resolvers.
type route struct {
	urlpath.Route        // the full route text (Pattern), its parts, matched and built
	full          string // "/" + Pattern, for RouteInfo and http.Request.Pattern
	name          string // qualified name, "polls:detail"; "" when unnamed
	view          View
	handler       http.Handler // for a Mount
	methods       []string     // nil: any method
	allow         string       // the Allow header for 405
	csrfExempt    bool
	viewName      string
	index         int
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
	var walk func(ps []Pattern, prefix []urlpath.Part, prefixText, ns string, methods []string, exempt bool)
	walk = func(ps []Pattern, prefix []urlpath.Part, prefixText, ns string, methods []string, exempt bool) {
		for _, p := range ps {
			parts, err := urlpath.Parse(p.route, convs, urlpath.Count(prefix))
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			all := urlpath.Join(prefix, parts)
			text := prefixText + p.route
			if dup := urlpath.DuplicateParam(all); dup != "" {
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
				Route: urlpath.Route{Parts: all, NParams: urlpath.Count(all), Pattern: text, Mount: p.kind == kindMount},
				full:  "/" + text, view: p.view, handler: p.handler,
				methods: ms, csrfExempt: ex, index: len(rt.routes),
			}
			if ms != nil {
				r.allow = allowHeader(ms)
			}
			if p.name != "" {
				r.name = qualify(ns, p.name)
				rt.byName[r.name] = append(rt.byName[r.name], r)
			}
			if r.Mount {
				r.viewName = fmt.Sprintf("%T", p.handler)
			} else {
				r.viewName = funcName(p.view)
			}
			rt.maxParams = max(rt.maxParams, r.NParams)
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
		if k, ok := r.FirstSegment(); ok {
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

// find returns the first route matching path (r.URL.Path, with its leading
// "/"), filling ps[:route.NParams] with its parameters, and for a mount the
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
		params := ps[:r.NParams]
		rest, ok := r.Match(s, params)
		if ok && r.Convert(params) {
			return r, rest
		}
	}
	return nil, ""
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
