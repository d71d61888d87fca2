package framework

import (
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
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
