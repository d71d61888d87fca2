package framework

import (
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// An app that replaces url or static with its own function (Config.Funcs
// may) must not have it folded or memoized as the framework's pure one: its
// result may change between renders (here a counter, as a per-request
// signed or versioned link would).
func TestBrkPerfOverriddenURLIsNotFolded(t *testing.T) {
	var n atomic.Int64
	impure := func(args ...any) string { return fmt.Sprintf("/v%d/%v", n.Add(1), args) }
	app := newApp(t, testSettings(), Config{Middleware: []Middleware{},
		Funcs: template.FuncMap{"url": impure, "static": impure},
		Apps: []AppConfig{{Templates: mapFS(map[string]string{
			"p.html": `<a href="{{url "const"}}">{{static "s.css"}}</a><a href="{{url "x" .n}}">{{.n | static}}</a>`,
		})}},
		URLs: []Pattern{Path("", func(w http.ResponseWriter, r *Request) error {
			return r.Render(w, "p.html", Context{"n": 7})
		}, "")},
	})
	get := func() string {
		w := httptest.NewRecorder()
		app.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if w.Code != 200 {
			t.Fatalf("GET /: %d %q", w.Code, w.Body)
		}
		return w.Body.String()
	}
	first, second := get(), get()
	if first == second {
		t.Fatalf("the app's own url/static ran once and was reused: %q both times", first)
	}
	if got := n.Load(); got != 8 {
		t.Fatalf("the app's url/static ran %d times for two renders of four calls, want 8", got)
	}
}

// The CSRF token is per client: neither csrf_field (not pure) nor the
// token piped through the built-in filters and a URL's escapers (memoized
// by value) may serve one client's token to another.
func TestBrkPerfCSRFTokenNotShared(t *testing.T) {
	app := newApp(t, testSettings(), Config{
		Apps: []AppConfig{{Templates: mapFS(map[string]string{
			"p.html": `<form>{{csrf_field .}}</form><a href="/x?t={{.csrf_token}}">{{.csrf_token | upper}}</a>|{{.csrf_token}}|`,
		})}},
		URLs: []Pattern{Path("", func(w http.ResponseWriter, r *Request) error { return r.Render(w, "p.html", nil) }, "")},
	})
	seen := map[string]bool{}
	for i := range 4 {
		w := httptest.NewRecorder()
		app.ServeHTTP(w, httptest.NewRequest("GET", "/", nil)) // a new client each time: no cookie
		body := w.Body.String()
		if w.Code != 200 {
			t.Fatalf("render %d: %d %q", i, w.Code, body)
		}
		parts := strings.Split(body, "|")
		if len(parts) < 3 || len(parts[1]) < 16 {
			t.Fatalf("render %d: no token in %q", i, body)
		}
		token := parts[1]
		if seen[token] {
			t.Fatalf("render %d: a token served before to another client: %q", i, body)
		}
		seen[token] = true
		if !strings.Contains(body, "t="+token) || !strings.Contains(body, strings.ToUpper(token)) {
			t.Fatalf("render %d: the memoized actions show another token than %q: %q", i, token, body)
		}
	}
}
