package framework

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// monthConv is a custom converter: one or two digits, 1..12. 13 matches
// but fails ToValue, so dispatch must fall through to the next pattern.
type monthConv struct{}

func (monthConv) Match(s string) bool { return len(s) <= 2 && isDigits(s) }
func (monthConv) SegmentOnly()        {}
func (monthConv) ToValue(s string) (any, error) {
	n, _ := strconv.Atoi(s)
	if n < 1 || n > 12 {
		return nil, fmt.Errorf("month %d out of range", n)
	}
	return n, nil
}
func (monthConv) ToURL(v any) (string, error) {
	n, ok := v.(int)
	if !ok || n < 1 || n > 12 {
		return "", fmt.Errorf("not a month: %v", v)
	}
	return strconv.Itoa(n), nil
}

// mountEcho is a plain http.Handler that reports what it sees.
var mountEcho = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "mount path=%s prefix=%s id=%s", r.URL.Path, FromRequest(r).MountPrefix(), r.PathValue("id"))
})

func dispatchPatterns() []Pattern {
	return []Pattern{
		Path("", echoView("index"), "index"),
		Path("articles/<int:year>/", echoView("year"), "year"),
		Path("articles/<int:year>/<month:month>/", echoView("month"), "month"),
		Path("articles/<int:year>/<slug:slug>/", echoView("year-slug"), "year-slug"),
		Path("articles/<slug:slug>/", echoView("slug"), "slug"),
		Path("files/<path:p>", echoView("file"), "file"),
		Path("users/<uuid:id>/", echoView("user"), "user"),
		Path("café/<name>/", echoView("cafe"), "cafe"),
		Path("exact", echoView("exact"), "exact"),
		Path("form/", echoView("form"), "form").Methods(http.MethodGet, http.MethodPost),
		Path("api/", echoView("api"), "api").Methods(http.MethodPost),
		Path("v<int:n>.<str:rest>/", echoView("version"), "version"),
		Include("polls/", "polls",
			Path("", echoView("polls-index"), "index"),
			Path("<int:question_id>/", echoView("detail"), "detail"),
			Path("<int:question_id>/vote/", echoView("vote"), "vote"),
		),
		Include("<slug:lang>/", "", Path("about/", echoView("about"), "about")),
		Mount("mounted/<int:id>/", mountEcho, "mounted"),
	}
}

func dispatchApp(t testing.TB, debug bool) *App {
	s := testSettings()
	s.Debug = debug
	return newApp(t, s, Config{
		URLs:       dispatchPatterns(),
		Converters: map[string]Converter{"month": monthConv{}},
		Middleware: []Middleware{},
	})
}

func TestDispatch(t *testing.T) {
	app := dispatchApp(t, false)
	tests := []struct {
		name, method, target string
		status               int
		body                 string // prefix of the body (for 2xx) or Location (3xx)
		allow                string
	}{
		{"index", "GET", "/", 200, "index", ""},
		{"int", "GET", "/articles/2024/", 200, "year year=int(2024)", ""},
		{"int fails, slug matches", "GET", "/articles/abc/", 200, "slug slug=string(abc)", ""},
		{"int overflows: ToValue fails, falls through", "GET", "/articles/99999999999999999999/", 200, "slug slug=string(99999999999999999999)", ""},
		{"custom converter", "GET", "/articles/2024/05/", 200, "month year=int(2024) month=int(5)", ""},
		{"custom ToValue fails: next pattern", "GET", "/articles/2024/13/", 200, "year-slug year=int(2024) slug=string(13)", ""},
		{"path converter spans slashes", "GET", "/files/a/b/c.txt", 200, "file p=string(a/b/c.txt)", ""},
		{"percent-encoded slash decoded", "GET", "/files/a%2Fb", 200, "file p=string(a/b)", ""},
		{"percent-encoded space", "GET", "/files/a%20b", 200, "file p=string(a b)", ""},
		{"uuid", "GET", "/users/123e4567-e89b-12d3-a456-426614174000/", 200, "user id=string(123e4567-e89b-12d3-a456-426614174000)", ""},
		{"uuid is lower-case only", "GET", "/users/123E4567-E89B-12D3-A456-426614174000/", 404, "", ""},
		{"unicode, percent-encoded", "GET", "/caf%C3%A9/%E2%9C%93/", 200, "cafe name=string(✓)", ""},
		{"unicode, raw", "GET", "/café/été/", 200, "cafe name=string(été)", ""},
		{"exact literal", "GET", "/exact", 200, "exact", ""},
		{"literal plus slash does not match", "GET", "/exact/", 404, "", ""},
		{"append slash keeps the query", "GET", "/articles/2024?x=1&y=%20", 301, "/articles/2024/?x=1&y=%20", ""},
		{"append slash for HEAD", "HEAD", "/polls/5", 301, "/polls/5/", ""},
		{"append slash keeps escapes", "GET", "/caf%C3%A9/a%20b", 301, "/caf%C3%A9/a%20b/", ""},
		{"no redirect for POST", "POST", "/articles/2024", 404, "", ""},
		{"no redirect when the slash URL does not match", "GET", "/nothing", 404, "", ""},
		{"404", "GET", "/nothing/", 404, "", ""},
		{"405 with Allow", "PUT", "/form/", 405, "", "GET, POST, HEAD"},
		{"405 for GET on a POST view", "GET", "/api/", 405, "", "POST"},
		{"HEAD allowed with GET", "HEAD", "/form/", 200, "", ""},
		{"POST allowed", "POST", "/api/", 200, "api", ""},
		{"converter inside a segment backtracks", "GET", "/v2.1.3/", 200, "version n=int(2) rest=string(1.3)", ""},
		{"include", "GET", "/polls/", 200, "polls-index", ""},
		{"include with int", "GET", "/polls/5/", 200, "detail question_id=int(5)", ""},
		{"include deeper", "GET", "/polls/5/vote/", 200, "vote question_id=int(5)", ""},
		{"include prefix parameter", "GET", "/en/about/", 200, "about lang=string(en)", ""},
		{"mount strips the prefix", "GET", "/mounted/7/x/y?q=1", 200, "mount path=/x/y prefix=/mounted/7 id=7", ""},
		{"mount root", "GET", "/mounted/7/", 200, "mount path=/ prefix=/mounted/7 id=7", ""},
		{"mount append slash", "GET", "/mounted/7", 301, "/mounted/7/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			app.ServeHTTP(w, httptest.NewRequest(tt.method, tt.target, nil))
			if w.Code != tt.status {
				t.Fatalf("%s %s: status %d, want %d; body %q", tt.method, tt.target, w.Code, tt.status, w.Body)
			}
			switch {
			case tt.status == 301:
				if got := w.Header().Get("Location"); got != tt.body {
					t.Errorf("Location %q, want %q", got, tt.body)
				}
			case tt.status == 200 && tt.method != "HEAD":
				if got := w.Body.String(); got != tt.body {
					t.Errorf("body %q, want %q", got, tt.body)
				}
			}
			if got := w.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestPathValuesForStdlib(t *testing.T) {
	app := newApp(t, testSettings(), Config{Middleware: []Middleware{}, URLs: []Pattern{
		Path("q/<int:id>/<slug:s>/", HandlerView(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %s %s", r.PathValue("id"), r.PathValue("s"), r.Pattern)
		})), ""),
	}})
	w := httptest.NewRecorder()
	app.ServeHTTP(w, httptest.NewRequest("GET", "/q/42/a-b/", nil))
	if w.Body.String() != "42 a-b /q/<int:id>/<slug:s>/" {
		t.Fatalf("PathValue and Pattern in a HandlerView: got %q", w.Body)
	}
	view := newApp(t, testSettings(), Config{Middleware: []Middleware{}, URLs: []Pattern{
		Path("q/<int:id>/<str:s>/", func(w http.ResponseWriter, r *Request) error {
			_, err := fmt.Fprintf(w, "%s %s %q", r.PathValue("id"), r.PathValue("s"), r.PathValue("none"))
			return err
		}, ""),
	}})
	w = httptest.NewRecorder()
	view.ServeHTTP(w, httptest.NewRequest("GET", "/q/0042/a%20b/", nil))
	if want := `0042 a b ""`; w.Body.String() != want {
		t.Fatalf("Request.PathValue in a view: got %q, want %q", w.Body, want)
	}
}

func TestAppendSlashDebugPOST(t *testing.T) {
	app := dispatchApp(t, true)
	for _, method := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		w := httptest.NewRecorder()
		app.ServeHTTP(w, httptest.NewRequest(method, "/polls/5/vote", nil))
		if w.Code != 500 {
			t.Fatalf("%s: status %d, want 500", method, w.Code)
		}
		body := w.Body.String()
		for _, want := range []string{"You called this URL via " + method, "doesn&#39;t end in a slash", "/polls/5/vote/ (note the trailing slash)", "append_slash: false"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: body lacks %q:\n%s", method, want, body)
			}
		}
	}
	// GET still redirects in debug.
	w := httptest.NewRecorder()
	app.ServeHTTP(w, httptest.NewRequest("GET", "/polls/5/vote", nil))
	if w.Code != 301 {
		t.Fatalf("GET in debug: status %d, want 301", w.Code)
	}
}

func TestAppendSlashOff(t *testing.T) {
	s := testSettings()
	s.AppendSlash = new(false)
	app := newApp(t, s, Config{Middleware: []Middleware{}, URLs: dispatchPatterns(), Converters: map[string]Converter{"month": monthConv{}}})
	w := httptest.NewRecorder()
	app.ServeHTTP(w, httptest.NewRequest("GET", "/polls/5", nil))
	if w.Code != 404 {
		t.Fatalf("append_slash false: status %d, want 404", w.Code)
	}
}

func TestAppendSlashNoOpenRedirect(t *testing.T) {
	app := newApp(t, testSettings(), Config{Middleware: []Middleware{}, URLs: []Pattern{Path("<path:p>/", echoView("any"), "")}})
	r := httptest.NewRequest("GET", "/", nil)
	r.URL.Path = "//evil.example" // as the request line "GET //evil.example HTTP/1.1" gives
	w := httptest.NewRecorder()
	app.ServeHTTP(w, r)
	if w.Code != 301 {
		t.Fatalf("status %d, want 301", w.Code)
	}
	if loc := w.Header().Get("Location"); loc != "/%2Fevil.example/" {
		t.Fatalf("Location %q: a leading // must be escaped", loc)
	}
}

func TestDebug404ListsPatterns(t *testing.T) {
	app := dispatchApp(t, true)
	w := httptest.NewRecorder()
	app.ServeHTTP(w, httptest.NewRequest("GET", "/nothing/<script>/", nil))
	body := w.Body.String()
	if w.Code != 404 || !strings.Contains(body, "polls/&lt;int:question_id&gt;/vote/") || !strings.Contains(body, "[name='polls:vote']") {
		t.Fatalf("debug 404: status %d, body lacks the patterns:\n%s", w.Code, body)
	}
	if strings.Contains(body, "<script>") {
		t.Fatal("debug 404 does not escape the path")
	}
}

func TestReverse(t *testing.T) {
	app := dispatchApp(t, false)
	ok := []struct {
		name string
		args []any
		want string
	}{
		{"index", nil, "/"},
		{"year", []any{2024}, "/articles/2024/"},
		{"year", []any{"2024"}, "/articles/2024/"},
		{"month", []any{2024, 5}, "/articles/2024/5/"},
		{"polls:index", nil, "/polls/"},
		{"polls:detail", []any{5}, "/polls/5/"},
		{"polls:detail", []any{Kwargs{"question_id": 5}}, "/polls/5/"},
		{"polls:vote", []any{int64(7)}, "/polls/7/vote/"},
		{"polls:vote", []any{uint8(7)}, "/polls/7/vote/"},
		{"file", []any{"a b/c?d#e%f"}, "/files/a%20b/c%3Fd%23e%25f"},
		{"cafe", []any{"✓"}, "/caf%C3%A9/%E2%9C%93/"},
		{"cafe", []any{42}, "/caf%C3%A9/42/"},
		{"about", []any{"en"}, "/en/about/"},
		{"user", []any{"123e4567-e89b-12d3-a456-426614174000"}, "/users/123e4567-e89b-12d3-a456-426614174000/"},
		{"version", []any{3, "x.y"}, "/v3.x.y/"},
		{"mounted", []any{9}, "/mounted/9/"},
	}
	for _, tt := range ok {
		got, err := app.Reverse(tt.name, tt.args...)
		if err != nil || got != tt.want {
			t.Errorf("Reverse(%q, %v) = %q, %v; want %q", tt.name, tt.args, got, err, tt.want)
		}
	}
	bad := []struct {
		why  string
		name string
		args []any
	}{
		{"unknown name", "nope", nil},
		{"unknown name in a namespace", "polls:nope", nil},
		{"namespaced name without its namespace", "detail", []any{5}},
		{"unknown namespace", "blog:detail", []any{5}},
		{"too few arguments", "polls:detail", nil},
		{"too many arguments", "polls:detail", []any{1, 2}},
		{"not digits", "polls:detail", []any{"abc"}},
		{"negative int", "polls:detail", []any{-1}},
		{"wrong type", "polls:detail", []any{1.5}},
		{"custom ToURL rejects", "month", []any{2024, 13}},
		{"slug rejects a space", "year-slug", []any{2024, "a b"}},
		{"uuid rejects", "user", []any{"not-a-uuid"}},
		{"str rejects a slash", "cafe", []any{"a/b"}},
		{"str rejects empty", "cafe", []any{""}},
		{"wrong keyword", "polls:detail", []any{Kwargs{"id": 5}}},
		{"extra keyword", "polls:detail", []any{Kwargs{"question_id": 5, "x": 1}}},
	}
	for _, tt := range bad {
		got, err := app.Reverse(tt.name, tt.args...)
		if !errors.Is(err, ErrNoReverseMatch) {
			t.Errorf("%s: Reverse(%q, %v) = %q, %v; want ErrNoReverseMatch", tt.why, tt.name, tt.args, got, err)
		}
	}
}

func TestReverseSameNameByArity(t *testing.T) {
	app := newApp(t, testSettings(), Config{Middleware: []Middleware{}, URLs: []Pattern{
		Path("a/", echoView("a"), "dup"),
		Path("b/<int:n>/", echoView("b"), "dup"),
		Path("c/<int:n>/", echoView("c"), "dup"),
	}})
	for _, tt := range []struct {
		args []any
		want string
	}{{nil, "/a/"}, {[]any{1}, "/c/1/"}} { // the last pattern that fits wins, as in Django
		if got, err := app.Reverse("dup", tt.args...); err != nil || got != tt.want {
			t.Errorf("Reverse(dup, %v) = %q, %v; want %q", tt.args, got, err, tt.want)
		}
	}
}

func TestPatternErrors(t *testing.T) {
	v := echoView("v")
	tests := []struct {
		name    string
		pattern Pattern
		want    string
	}{
		{"leading slash", Path("/polls/", v, ""), "starts with /"},
		{"unknown converter", Path("<float:x>/", v, ""), `invalid converter "float"`},
		{"unclosed", Path("<int:x/", v, ""), "unclosed <"},
		{"stray >", Path("a>b/", v, ""), "> without a <"},
		{"whitespace", Path("<int: x>/", v, ""), "whitespace"},
		{"bad name", Path("<int:1x>/", v, ""), "not an identifier"},
		{"duplicate parameter", Include("<int:x>/", "", Path("<int:x>/", v, "")), `parameter "x" appears twice`},
		{"nil view", Path("a/", nil, ""), "nil view"},
		{"nil handler", Mount("a/", nil, ""), "nil handler"},
	}
	for _, tt := range tests {
		_, err := New(testSettings(), Config{URLs: []Pattern{tt.pattern}})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
	// Every problem is reported at once.
	_, err := New(testSettings(), Config{URLs: []Pattern{Path("/a/", v, ""), Path("<x:y>/", v, "")}})
	if err == nil || !strings.Contains(err.Error(), "starts with /") || !strings.Contains(err.Error(), `invalid converter "x"`) {
		t.Errorf("New should list every pattern error, got %v", err)
	}
}

func TestRoutes(t *testing.T) {
	app := dispatchApp(t, false)
	routes := app.Routes()
	var vote *RouteInfo
	for i := range routes {
		if routes[i].Name == "polls:vote" {
			vote = &routes[i]
		}
	}
	if vote == nil || vote.Pattern != "/polls/<int:question_id>/vote/" || !strings.Contains(vote.View, "echoView") {
		t.Fatalf("polls:vote route info = %+v", vote)
	}
	if last := routes[len(routes)-1]; !last.Mount || last.Name != "mounted" {
		t.Fatalf("last route = %+v, want the mount", last)
	}
}

func TestContextReplacedByMiddleware(t *testing.T) {
	// A middleware that drops the request's context (context.Background())
	// must not break dispatch.
	drop := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(context.Background()))
		})
	}
	app := newApp(t, testSettings(), Config{Middleware: []Middleware{drop}, URLs: dispatchPatterns(),
		Converters: map[string]Converter{"month": monthConv{}}})
	w := httptest.NewRecorder()
	app.ServeHTTP(w, httptest.NewRequest("GET", "/polls/5/", nil))
	if w.Code != 200 || w.Body.String() != "detail question_id=int(5)" {
		t.Fatalf("got %d %q", w.Code, w.Body)
	}
}
