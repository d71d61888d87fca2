package framework

import (
	"fmt"
	"net/http"
	"reflect"
	"runtime"
	"slices"
	"strings"
)

// View handles one matched URL, as a Django view function does: it reads
// the request (typed URL parameters with r.Int / r.Arg, the form, the
// session), writes a response to w (usually with r.Render, r.JSON,
// r.Redirect) and returns nil, or returns an error instead of writing.
// An error becomes an error page: a *HTTPError (NotFound, BadRequest...)
// its status, a body over the size limit 413, anything else 500 with the
// error logged (and shown in debug).
type View func(w http.ResponseWriter, r *Request) error

// HandlerView adapts an http.Handler to a View, to route a plain Go handler
// at one exact pattern; it reads the URL parameters with r.PathValue.
// (Mount routes a whole subtree to a handler.)
func HandlerView(h http.Handler) View {
	return func(w http.ResponseWriter, r *Request) error {
		r.setPathValues(r.Request)
		h.ServeHTTP(w, r.Request)
		return nil
	}
}

type patternKind uint8

const (
	kindView patternKind = iota
	kindInclude
	kindMount
)

// Pattern is one entry of a URL configuration, Django's urlpatterns: a
// route to a View ([Path]), a nested list under a prefix ([Include]), or an
// http.Handler owning a prefix ([Mount]). Patterns are plain values; they
// are parsed and compiled once, by New, which reports every mistake.
//
// A route is Django's path() syntax: relative (no leading "/"), literal text
// and <converter:name> or <name> (converter str) parameters, for example
// "<int:question_id>/vote/". Converters are str ([^/]+), int ([0-9]+, an
// int), slug ([-a-zA-Z0-9_]+), uuid (lower-case 8-4-4-4-12, a string), path
// (.+, slashes included) and those in Config.Converters.
type Pattern struct {
	kind       patternKind
	route      string
	name       string
	view       View
	handler    http.Handler
	namespace  string
	children   []Pattern
	methods    []string
	csrfExempt bool
}

// Path routes URLs matching route to view, as Django's path(route, view,
// name=name). name may be empty; a named pattern can be reversed
// ("detail", or "polls:detail" inside an Include with namespace "polls").
func Path(route string, view View, name string) Pattern {
	return Pattern{kind: kindView, route: route, view: view, name: name}
}

// Include nests patterns under prefix, as Django's include() with an
// app_name: their names are reversed as "namespace:name" (an empty
// namespace adds none). Parameters captured by prefix reach every view
// below it.
func Include(prefix, namespace string, patterns ...Pattern) Pattern {
	return Pattern{kind: kindInclude, route: prefix, namespace: namespace, children: patterns}
}

// Mount hands every URL that starts with prefix to h, as mounting a WSGI
// app under a SCRIPT_NAME: h sees r.URL.Path with the matched prefix
// removed (always starting with "/"; RawPath is cleared), the prefix is
// available from [Request.MountPrefix] via [FromRequest], and parameters
// captured by prefix from r.PathValue. name makes the prefix reversible.
func Mount(prefix string, h http.Handler, name string) Pattern {
	return Pattern{kind: kindMount, route: prefix, handler: h, name: name}
}

// Methods restricts the pattern (for an Include: every pattern inside it
// that sets none itself) to the given HTTP methods, like Django's
// @require_http_methods: a request that matches with another method gets
// 405 with an Allow header. GET allows HEAD.
func (p Pattern) Methods(methods ...string) Pattern {
	p.methods = slices.Clone(methods)
	return p
}

// CSRFExempt exempts the pattern (for an Include: everything inside it)
// from the CSRF middleware, as Django's @csrf_exempt. For machine clients
// (webhooks, APIs with their own authentication) only.
func (p Pattern) CSRFExempt() Pattern {
	p.csrfExempt = true
	return p
}

// funcName names a view for `stack routes`, as "polls.detail".
func funcName(v any) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Func || rv.IsNil() {
		return fmt.Sprintf("%T", v)
	}
	f := runtime.FuncForPC(rv.Pointer())
	if f == nil {
		return "?"
	}
	name := f.Name()
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	// A method value is "pkg.(*T).m-fm"; show it as Go code names it.
	name = strings.TrimSuffix(name, "-fm")
	if i := strings.Index(name, ".(*"); i >= 0 {
		if j := strings.Index(name[i:], ")."); j >= 0 {
			name = name[:i+1] + name[i+3:i+j] + name[i+j+1:]
		}
	}
	return name
}
