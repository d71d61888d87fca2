package framework

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// benchPatterns is a realistic URL configuration of 100 patterns: ten
// apps of ten patterns each, with int, slug, uuid and str converters.
func benchPatterns(view View) []Pattern {
	apps := []string{"polls", "blog", "shop", "api/v1", "accounts", "docs", "forum", "wiki", "events", "users"}
	var root []Pattern
	for _, app := range apps {
		root = append(root, Include(app+"/", app,
			Path("", view, "index"),
			Path("<int:id>/", view, "detail"),
			Path("<int:id>/edit/", view, "edit").Methods(http.MethodGet, http.MethodPost),
			Path("<int:id>/delete/", view, "delete").Methods(http.MethodPost),
			Path("<int:year>/<int:month>/", view, "month"),
			Path("<int:year>/<int:month>/<slug:slug>/", view, "entry"),
			Path("category/<slug:category>/", view, "category"),
			Path("search/", view, "search"),
			Path("<uuid:token>/confirm/", view, "confirm"),
			Path("<slug:slug>/", view, "by-slug"),
		))
	}
	return root
}

// benchPaths is the mix of requests: early and late apps, every kind of
// pattern, and misses.
var benchPaths = []string{
	"/polls/",
	"/polls/42/",
	"/blog/2024/05/hello-world/",
	"/shop/category/shoes/",
	"/api/v1/1234/edit/",
	"/accounts/123e4567-e89b-12d3-a456-426614174000/confirm/",
	"/forum/search/",
	"/wiki/some-page/",
	"/users/99/delete/",
	"/events/2025/12/",
	"/users/no/such/page/",
	"/nothing-here/",
}

// BenchmarkDispatch100 measures URL resolution alone over 100 patterns.
func BenchmarkDispatch100(b *testing.B) {
	app := newApp(b, testSettings(), Config{URLs: benchPatterns(echoView("v")), Middleware: []Middleware{}})
	if n := len(app.Routes()); n != 100 {
		b.Fatalf("%d patterns, want 100", n)
	}
	st := &Request{app: app}
	for _, p := range benchPaths[:10] { // the hits must hit
		if app.resolve(st, p, "GET"); st.res != resRoute {
			b.Fatalf("%s does not match", p)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		*st = Request{app: app}
		app.resolve(st, benchPaths[i%len(benchPaths)], "GET")
	}
}

// BenchmarkServeNoMiddleware is a request through App with no middleware:
// the App's own per-request cost (state, context, resolution, view call).
func BenchmarkServeNoMiddleware(b *testing.B) {
	view := func(w http.ResponseWriter, r *Request) error {
		_, err := io.WriteString(w, "ok")
		return err
	}
	app := newApp(b, testSettings(), Config{URLs: benchPatterns(view), Middleware: []Middleware{}})
	reqs := make([]*http.Request, len(benchPaths))
	for i, p := range benchPaths {
		reqs[i] = httptest.NewRequest("GET", p, nil)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		app.ServeHTTP(httptest.NewRecorder(), reqs[i%len(reqs)])
	}
}

// BenchmarkApp is a full request through App with the default middleware
// (logging to a discarding handler, recovery, security headers, allowed
// hosts, sessions, CSRF, messages), into an httptest.ResponseRecorder.
func BenchmarkApp(b *testing.B) {
	text := func(w http.ResponseWriter, r *Request) error {
		_, err := fmt.Fprintf(w, "question %d", r.Int("id"))
		return err
	}
	urls := benchPatterns(text)
	urls = append(urls,
		Path("page/<int:id>/", func(w http.ResponseWriter, r *Request) error {
			return r.Render(w, "page.html", Context{"id": r.Int("id"), "choices": []string{"a", "b", "c"}})
		}, "page"),
		Path("json/<int:id>/", func(w http.ResponseWriter, r *Request) error {
			return r.JSON(w, http.StatusOK, map[string]int{"id": r.Int("id")})
		}, "json"),
	)
	tpl := mapFS(map[string]string{
		"base.html": `<!doctype html><title>{{block "title" .}}polls{{end}}</title><body>{{block "content" .}}{{end}}</body>`,
		"page.html": `{{extends "base.html"}}{{define "content"}}<h1>Question {{.id}}</h1><ul>{{range .choices}}` +
			`<li><a href="{{url "polls:detail" $.id}}">{{.}}</a></li>{{end}}</ul>{{end}}`,
	})
	app := newApp(b, testSettings(), Config{URLs: urls, Apps: []AppConfig{{Name: "b", Templates: tpl}}})
	for _, bc := range []struct{ name, path, want string }{
		{"text", "/polls/42/", "question 42"},
		{"template", "/page/42/", "<h1>Question 42</h1>"},
		{"json", "/json/42/", `{"id":42}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", bc.path, nil)
			w := httptest.NewRecorder()
			app.ServeHTTP(w, r)
			if w.Code != 200 || !strings.Contains(w.Body.String(), bc.want) {
				b.Fatalf("%s: %d %q", bc.path, w.Code, w.Body)
			}
			b.ReportAllocs()
			for b.Loop() {
				app.ServeHTTP(httptest.NewRecorder(), r)
			}
		})
	}
}
