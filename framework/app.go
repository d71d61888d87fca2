package framework

import (
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/stack-web/stack/framework/internal/unionfs"
	"github.com/stack-web/stack/framework/templates"
)

// AppConfig declares an installed app, an entry of Django's INSTALLED_APPS:
// its templates and static files, usually sub-trees of an embed.FS.
//
//	//go:embed templates static
//	var files embed.FS
//	templatesFS, _ := fs.Sub(files, "templates") // holds polls/index.html
//	staticFS, _ := fs.Sub(files, "static")       // holds polls/style.css
//	framework.AppConfig{Name: "polls", Templates: templatesFS, Static: staticFS}
type AppConfig struct {
	Name      string
	Templates fs.FS // template names are paths in it: "polls/index.html"
	Static    fs.FS // served as Settings.StaticURL + path: /static/polls/style.css
}

// Config is the code side of a project, the parts of Django's settings.py
// that are code: the root URLconf, the installed apps, the middleware.
type Config struct {
	// URLs is the root URLconf (urlpatterns).
	URLs []Pattern
	// Apps are the installed apps, in order: templates and static files are
	// looked up in this order (after Settings.TemplateDirs for templates).
	Apps []AppConfig
	// Middleware is the ordered MIDDLEWARE list, outermost first. Nil means
	// DefaultMiddleware(settings, logger); an empty slice means none.
	Middleware []Middleware
	// Converters are custom path converters by name, Django's
	// register_converter: "yyyy" makes <yyyy:year> usable in routes.
	Converters map[string]Converter
	// Funcs are extra template functions (html/template needs them at parse
	// time). They may replace the framework's url, static and csrf_field.
	Funcs template.FuncMap
	// ContextProcessors add to every Render's context, after the built-in
	// request, csrf_token, messages and debug.
	ContextProcessors []func(r *Request, ctx Context)
	// Logger receives request logs, panics and warnings. Nil discards.
	Logger *slog.Logger
}

// App is a framework application: an http.Handler that runs the middleware
// and dispatches to views. It knows nothing of the server in front of it
// (the uwsgi app server, net/http, httptest).
type App struct {
	settings   Settings
	logger     *slog.Logger
	router     *router
	handler    http.Handler // the middleware around dispatch
	renderer   pageRenderer // nil without templates
	static     unionfs.FS
	staticPath string // the static URL path the app serves itself (debug), or ""
	processors []func(*Request, Context)
	started    time.Time
}

// pageRenderer is what App needs of *templates.Set.
type pageRenderer interface {
	Render(w io.Writer, name string, data any) error
	Has(name string) bool
}

// RouteInfo describes one URL pattern, for `stack routes` and the debug 404.
type RouteInfo struct {
	Pattern string   // the full route: "/polls/<int:question_id>/"
	Name    string   // the name to reverse, with namespaces: "polls:detail"
	View    string   // the view function ("polls.detail") or mounted handler type
	Methods []string // the allowed methods; nil means any
	Mount   bool     // a Mount: every path under Pattern
}

// New builds an App from the settings (validated here: every problem is
// reported) and the project's code: it compiles the URL patterns, parses
// the templates and assembles the middleware once, so that serving a
// request does none of it.
func New(s Settings, c Config) (*App, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("framework: settings: %w", err)
	}
	s = s.withDefaults()
	a := &App{logger: c.Logger, processors: c.ContextProcessors, started: time.Now()}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	if s.SecretKey == "" {
		s.SecretKey = randomKey()
		a.logger.Warn("secret_key is not set: using a random key for this process (debug only); sessions will not survive a restart")
	}
	for _, w := range s.Warnings() {
		a.logger.Warn(w) // a weak secret_key with debug off: served, but flagged
	}
	a.settings = s

	rt, err := compile(c.URLs, c.Converters)
	if err != nil {
		return nil, err
	}
	a.router = rt

	var tsrc []fs.FS
	for _, d := range s.TemplateDirs {
		tsrc = append(tsrc, os.DirFS(d))
	}
	for _, app := range c.Apps {
		if app.Templates != nil {
			tsrc = append(tsrc, app.Templates)
		}
		if app.Static != nil {
			a.static = append(a.static, app.Static)
		}
	}
	if len(tsrc) > 0 {
		funcs := template.FuncMap{
			"url":        a.Reverse,
			"static":     staticURL(s.StaticURL),
			"csrf_field": csrfField,
		}
		// The framework's url and static are pure; an app's own function
		// under either name is not known to be, and is never folded.
		var pure []string
		for _, name := range []string{"url", "static"} {
			if _, mine := c.Funcs[name]; !mine {
				pure = append(pure, name)
			}
		}
		maps.Copy(funcs, c.Funcs)
		set, err := templates.New(templates.Options{Sources: tsrc, Funcs: funcs, Pure: pure,
			Reload: s.Debug, Logger: a.logger})
		if err != nil {
			return nil, fmt.Errorf("framework: templates: %w", err)
		}
		a.renderer = set
	}
	if s.Debug && strings.HasPrefix(s.StaticURL, "/") && len(a.static) > 0 {
		a.staticPath = s.StaticURL
	}

	mw := c.Middleware
	if mw == nil {
		mw = DefaultMiddleware(s, a.logger)
	}
	var h http.Handler = http.HandlerFunc(a.dispatch)
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	a.handler = h
	return a, nil
}

// Settings returns the effective settings (defaults filled in).
func (a *App) Settings() Settings { return a.settings }

// Logger returns the App's logger, for views and apps.
func (a *App) Logger() *slog.Logger { return a.logger }

// Reverse returns the URL path of the pattern called name ("polls:detail")
// with args filling its parameters in order, or one Kwargs argument filling
// them by name: Django's reverse(). The result is percent-encoded and starts
// with "/". An unknown name or arguments that fit no pattern of that name
// return an error wrapping ErrNoReverseMatch. Templates call it as
// {{url "polls:detail" .question.ID}}.
func (a *App) Reverse(name string, args ...any) (string, error) {
	return a.router.reverse(name, args)
}

// Routes lists the URL patterns in dispatch order.
func (a *App) Routes() []RouteInfo {
	out := make([]RouteInfo, len(a.router.routes))
	for i, r := range a.router.routes {
		out[i] = RouteInfo{Pattern: r.full, Name: r.name, View: r.viewName, Methods: r.methods, Mount: r.Mount}
	}
	return out
}

// StaticFS returns the apps' static files merged (the first app that has a
// name wins), for `stack collectstatic` and for serving.
func (a *App) StaticFS() fs.FS { return a.static }

// ServeHTTP resolves the URL, then runs the middleware and the view.
// Resolution comes first so that middleware can see the matched pattern
// (CSRF exemption, as Django's process_view); the 404, 405 and slash
// redirect are still answered inside the middleware, so they get the
// security headers and the log line.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := &Request{app: a, maxBody: a.settings.MaxBodySize, secure: isHTTPS(r, a.settings.TrustForwardedProto)}
	st.rw.reset(w, st)
	r = st.attach(r)
	st.limitBody(w, r)
	defer st.cleanup()
	a.resolve(st, r.URL.Path, r.Method)
	if st.route != nil {
		r.Pattern = st.route.full // as net/http's ServeMux does, for stdlib middleware and logs
	}
	a.handler.ServeHTTP(&st.rw, r)
}

// cleanup removes a multipart form's temporary files: net/http only does
// that for the request it created, not for our copy.
func (r *Request) cleanup() {
	if r.multipart != nil {
		_ = r.multipart.RemoveAll()
	}
}

// resolve matches the path against the URL patterns (and the static URL in
// debug), applying APPEND_SLASH.
func (a *App) resolve(st *Request, p, method string) {
	if a.staticPath != "" && strings.HasPrefix(p, a.staticPath) {
		st.res = resStatic
		return
	}
	ps := st.paramBuf[:]
	if a.router.maxParams > len(ps) {
		ps = make([]Param, a.router.maxParams)
	}
	if rt, rest := a.router.find(p, ps); rt != nil {
		st.res, st.route, st.rest, st.params = resRoute, rt, rest, ps[:rt.NParams]
		return
	}
	if a.settings.appendSlash() && !strings.HasSuffix(p, "/") {
		if rt, _ := a.router.find(p+"/", ps); rt != nil {
			st.res = resSlashUnsafe
			if method == http.MethodGet || method == http.MethodHead {
				st.res = resSlash
			}
		}
	}
}

// dispatch is the innermost handler: it answers what resolve decided.
func (a *App) dispatch(w http.ResponseWriter, r *http.Request) {
	st := FromRequest(r)
	if st == nil || st.app != a {
		// A middleware gave the request a context that does not derive
		// from ours; resolve again rather than fail.
		st = &Request{app: a, maxBody: a.settings.MaxBodySize, secure: isHTTPS(r, a.settings.TrustForwardedProto), bodyLimited: true}
		st.rw.reset(w, st)
		w, r = &st.rw, st.attach(r)
		a.resolve(st, r.URL.Path, r.Method)
	}
	st.Request = r
	switch st.res {
	case resRoute:
		a.serveRoute(w, r, st)
	case resStatic:
		a.serveStatic(w, r)
	case resSlash:
		u := r.URL.EscapedPath() + "/"
		if strings.HasPrefix(u, "//") {
			u = "/%2F" + u[2:] // "//evil.example/" would leave the site
		}
		if r.URL.RawQuery != "" {
			u += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", u)
		w.WriteHeader(http.StatusMovedPermanently)
	case resSlashUnsafe:
		switch r.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			if a.settings.Debug {
				writeDebug500(w, r, fmt.Sprintf("You called this URL via %s, but the URL doesn't end in a slash and you have append_slash set. "+
					"stack can't redirect to the slash URL while maintaining %s data. Change your form to point to %s/ (note the trailing slash), "+
					"or set append_slash: false in the app's settings.", r.Method, r.Method, r.URL.Path), nil)
				return
			}
		}
		a.notFound(w, r, st, "")
	default:
		a.notFound(w, r, st, "")
	}
}

func (a *App) notFound(w http.ResponseWriter, r *http.Request, st *Request, msg string) {
	if a.settings.Debug {
		a.writeDebug404(w, r, msg)
		return
	}
	writeError(w, st, http.StatusNotFound, msg, nil, false)
}

// serveRoute runs a matched view or mounted handler.
func (a *App) serveRoute(w http.ResponseWriter, r *http.Request, st *Request) {
	rt := st.route
	if !rt.allows(r.Method) {
		w.Header().Set("Allow", rt.allow)
		writeError(w, st, http.StatusMethodNotAllowed, "", nil, a.settings.Debug)
		return
	}
	if !rt.Mount {
		if err := rt.view(w, st); err != nil {
			a.viewError(w, st, err)
		}
		return
	}
	st.setPathValues(r)
	prefix := r.URL.Path[:len(r.URL.Path)-len(st.rest)]
	st.mountPrefix = strings.TrimSuffix(prefix, "/")
	r2 := new(http.Request)
	*r2 = *r
	r2.URL = new(url.URL)
	*r2.URL = *r.URL
	r2.URL.Path = st.rest
	if !strings.HasPrefix(r2.URL.Path, "/") {
		r2.URL.Path = "/" + r2.URL.Path
	}
	r2.URL.RawPath = ""
	st.Request = r2
	rt.handler.ServeHTTP(w, r2)
}

// addContext adds the context processors' values to a page's context.
func (a *App) addContext(r *Request, ctx Context) {
	if _, ok := ctx["request"]; !ok {
		ctx["request"] = r
	}
	if _, ok := ctx["csrf_token"]; !ok {
		ctx["csrf_token"] = csrfTokenValue{r}
	}
	if _, ok := ctx["messages"]; !ok {
		ctx["messages"] = r.Messages()
	}
	if _, ok := ctx["debug"]; !ok {
		ctx["debug"] = a.settings.Debug
	}
	for _, p := range a.processors {
		p(r, ctx)
	}
}
