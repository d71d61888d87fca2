package edge

import (
	"net/http"
	"slices"
	"strings"

	"github.com/stack-web/stack/edge/internal/locmetrics"
	"github.com/stack-web/stack/edge/internal/proxytrust"
)

// Location matching, as nginx users expect it:
//
//   - "= /path" matches that path only, and is tried before any prefix
//     (nginx's location = /path);
//   - a prefix matches every path under it, the longest first (nginx's
//     location /prefix/);
//   - a location may also require a method (methods: [GET, POST]; GET
//     implies HEAD, as in nginx's limit_except) or a header (header:
//     {name: X-Api-Version, value: "2"}). A request that does not meet them
//     falls through to the next candidate: among locations of one path,
//     those with conditions are tried first, in the order written.
//
// The list is sorted once, when the state is built, so that a request
// walks it in order and takes the first that matches: no allocation.

// location is a configured path and what serves it.
type location struct {
	prefix  string // the path matched: a prefix, or the whole path when exact
	exact   bool
	methods []string // nil: any method
	header  string   // canonical header name required, "" none
	value   string   // a value header must have, "" any
	label   string   // for metrics: the path as written, after the server's first name
	handler http.Handler
	metrics *locmetrics.Location // set by metrics.attach when the edge is instrumented

	// forwarded: header is one the edge replaces unless the client is a
	// trusted proxy (X-Forwarded-For/-Proto/-Host, proxy.go), so the
	// condition sees the value the app will get, not an untrusted claim.
	forwarded bool
}

// newLocation is lc served by h, in a server named server ("" for the
// default server of edge.locations).
func newLocation(lc LocationConfig, server string, h http.Handler) location {
	path, exact := splitLocationPath(lc.Path)
	l := location{prefix: path, exact: exact, handler: h, label: lc.Path}
	if exact {
		l.label = "= " + path
	}
	if server != "" {
		l.label = server + " " + l.label
	}
	for _, m := range lc.Methods {
		m = strings.ToUpper(m)
		l.methods = append(l.methods, m)
		if m == http.MethodGet && !slices.ContainsFunc(lc.Methods, func(s string) bool { return strings.EqualFold(s, http.MethodHead) }) {
			l.methods = append(l.methods, http.MethodHead)
		}
	}
	if lc.Header != nil {
		l.header, l.value = http.CanonicalHeaderKey(lc.Header.Name), lc.Header.Value
		switch l.header {
		case "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host":
			l.forwarded = true
		}
	}
	return l
}

// conditional reports whether l requires more than its path.
func (l *location) conditional() bool { return l.methods != nil || l.header != "" }

// matches reports whether l serves a request for path (normalised), from
// a client that trust says whether to believe.
func (l *location) matches(path string, r *http.Request, trust proxytrust.List) bool {
	if l.exact {
		if path != l.prefix {
			return false
		}
	} else if !strings.HasPrefix(path, l.prefix) {
		return false
	}
	if l.methods != nil && !slices.Contains(l.methods, r.Method) {
		return false
	}
	if l.forwarded && !trust.TrustsClient(r) {
		return l.value == "" || proxytrust.Untrusted(l.header, r) == l.value
	}
	if l.header != "" {
		vs := r.Header[l.header]
		if len(vs) == 0 || l.value != "" && !slices.Contains(vs, l.value) {
			return false
		}
	}
	return true
}

// sortLocations puts locs in the order they are tried: exact paths, then
// prefixes longest first; for one path, conditional locations first; else
// as written.
func sortLocations(locs []location) {
	slices.SortStableFunc(locs, func(a, b location) int {
		switch {
		case a.exact != b.exact:
			if a.exact {
				return -1
			}
			return 1
		case len(a.prefix) != len(b.prefix):
			return len(b.prefix) - len(a.prefix)
		case a.conditional() != b.conditional():
			if a.conditional() {
				return -1
			}
			return 1
		}
		return 0
	})
}

// match returns the location that serves a request for path, nil if none.
func (s *site) match(path string, r *http.Request) *location {
	for i := range s.locations {
		if s.locations[i].matches(path, r, s.trust) {
			return &s.locations[i]
		}
	}
	return nil
}
