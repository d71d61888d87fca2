package framework

import (
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestSettingsValidate(t *testing.T) {
	tests := []struct {
		name string
		s    Settings
		want []string // substrings, every one in the error; nil: valid
	}{
		{"valid", testSettings(), nil},
		{"debug needs no key or hosts", Settings{Debug: true}, nil},
		{"missing key", Settings{Name: "polls", AllowedHosts: []string{"*"}},
			[]string{"secret_key is required when debug is false; set apps.polls.secret_key or STACK_APPS_POLLS_SECRET_KEY"}},
		{"everything wrong at once", Settings{
			Name: "my-app", AllowedHosts: []string{"http://x.com"}, StaticURL: "static",
			MaxBodySize: -5, SessionCookieName: "bad name", SessionCookieAge: -1,
			CSRFTrustedOrigins: []string{"example.com"}, TemplateDirs: []string{""},
		}, []string{
			"STACK_APPS_MY_APP_SECRET_KEY", `allowed_hosts[0]: "http://x.com"`, `static_url: "static" must end with /`,
			"must be a path starting with /", "max_body_size: -5", `session_cookie_name: "bad name"`,
			"session_cookie_age: -1", `csrf_trusted_origins[0]: "example.com"`, "template_dirs[0] is empty",
		}},
		{"empty hosts outside debug", Settings{SecretKey: "k"}, []string{"apps.<name>.allowed_hosts is empty"}},
	}
	for _, tt := range tests {
		err := tt.s.Validate()
		if tt.want == nil {
			if err != nil {
				t.Errorf("%s: Validate() = %v, want nil", tt.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: Validate() = nil, want errors", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error lacks %q:\n%v", tt.name, w, err)
			}
		}
	}
	if _, err := New(Settings{AllowedHosts: []string{"*"}}, Config{}); err == nil || !strings.Contains(err.Error(), "secret_key is required") {
		t.Errorf("New with no key outside debug: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	d := DefaultSettings()
	if d.StaticURL != "/static/" || !d.appendSlash() || d.MaxBodySize != 2621440 || d.SessionCookieName != "sessionid" || d.SessionCookieAge != 1209600 {
		t.Fatalf("DefaultSettings() = %+v", d)
	}
	logs := &logBuffer{}
	app := newApp(t, Settings{Debug: true}, Config{Logger: newLogger(logs)})
	if app.Settings().SecretKey == "" || !strings.Contains(logs.String(), "secret_key is not set") {
		t.Fatal("debug without a key must get a random key and a warning")
	}
	other := newApp(t, Settings{Debug: true}, Config{})
	if other.Settings().SecretKey == app.Settings().SecretKey {
		t.Fatal("two processes' random keys are equal")
	}
}

func TestStaticFS(t *testing.T) {
	a := fstest.MapFS{"polls/style.css": {Data: []byte("a")}, "polls/a.js": {Data: []byte("a")}}
	b := fstest.MapFS{"polls/style.css": {Data: []byte("b")}, "blog/b.css": {Data: []byte("b")}}
	app := newApp(t, testSettings(), Config{Apps: []AppConfig{{Name: "a", Static: a}, {Name: "b", Static: b}, {Name: "none"}}})
	sfs := app.StaticFS()
	data, err := fs.ReadFile(sfs, "polls/style.css")
	if err != nil || string(data) != "a" {
		t.Fatalf("first app must win: %q %v", data, err)
	}
	var files []string
	err = fs.WalkDir(sfs, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil || strings.Join(files, " ") != "blog/b.css polls/a.js polls/style.css" {
		t.Fatalf("WalkDir: %v %v", files, err)
	}
	if err := fstest.TestFS(sfs, "blog/b.css", "polls/a.js", "polls/style.css"); err != nil {
		t.Fatal(err)
	}
	if _, err := sfs.Open("../x"); !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("Open(../x): %v", err)
	}
	empty := newApp(t, testSettings(), Config{}).StaticFS()
	if entries, err := fs.ReadDir(empty, "."); err != nil || len(entries) != 0 {
		t.Fatalf("an app without static files: %v %v", entries, err)
	}
}

func TestTemplateErrorsAtNew(t *testing.T) {
	_, err := New(testSettings(), Config{Apps: []AppConfig{{Templates: mapFS(map[string]string{"x.html": "{{nosuchfunc}}"})}}})
	if err == nil || !strings.Contains(err.Error(), "x.html") {
		t.Fatalf("a broken template must fail New naming the file: %v", err)
	}
}

func TestRenderErrors(t *testing.T) {
	app := newApp(t, testSettings(), Config{Middleware: []Middleware{},
		Apps: []AppConfig{{Templates: mapFS(map[string]string{
			"badurl.html":  `{{url "nope"}}`,
			"badcsrf.html": `{{range .items}}{{csrf_field .}}{{end}}`,
		})}},
		URLs: []Pattern{
			Path("badurl/", func(w http.ResponseWriter, r *Request) error { return r.Render(w, "badurl.html", nil) }, ""),
			Path("badcsrf/", func(w http.ResponseWriter, r *Request) error {
				return r.Render(w, "badcsrf.html", Context{"items": []int{1}})
			}, ""),
			Path("nopage/", func(w http.ResponseWriter, r *Request) error { return r.Render(w, "nope.html", nil) }, ""),
		}})
	for _, target := range []string{"/badurl/", "/badcsrf/", "/nopage/"} {
		w := httptest.NewRecorder()
		app.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
		if w.Code != 500 || !strings.HasPrefix(w.Body.String(), "500 Internal Server Error") {
			t.Errorf("%s: %d %q; a failed render must give a clean 500", target, w.Code, w.Body)
		}
	}
}

func TestNoTemplates(t *testing.T) {
	app := newApp(t, testSettings(), Config{Middleware: []Middleware{}, URLs: []Pattern{
		Path("", func(w http.ResponseWriter, r *Request) error { return r.Render(w, "x.html", nil) }, ""),
	}})
	w := httptest.NewRecorder()
	app.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 500 {
		t.Fatalf("Render without templates: %d, want 500", w.Code)
	}
}

func TestRenderStatusAndContextProcessors(t *testing.T) {
	app := newApp(t, testSettings(), Config{Middleware: []Middleware{},
		Apps:              []AppConfig{{Templates: mapFS(map[string]string{"p.html": `{{.site}} {{.request.Method}} {{.debug}}`})}},
		ContextProcessors: []func(*Request, Context){func(r *Request, c Context) { c["site"] = "polls" }},
		URLs: []Pattern{Path("", func(w http.ResponseWriter, r *Request) error {
			return r.RenderStatus(w, http.StatusTeapot, "p.html", nil)
		}, "")},
	})
	w := httptest.NewRecorder()
	app.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != http.StatusTeapot || w.Body.String() != "polls GET false" {
		t.Fatalf("RenderStatus: %d %q", w.Code, w.Body)
	}
}

func TestFileResponses(t *testing.T) {
	files := fstest.MapFS{"docs/a.txt": {Data: []byte("0123456789")}, "docs/sub/b.txt": {Data: []byte("b")}}
	app := newApp(t, testSettings(), Config{Middleware: []Middleware{}, URLs: []Pattern{
		Path("files/<path:name>", func(w http.ResponseWriter, r *Request) error {
			return r.FileFS(w, files, r.PathValue("name"))
		}, ""),
		Path("inline/", func(w http.ResponseWriter, r *Request) error {
			return r.File(w, "x.json", time.Time{}, strings.NewReader(`{"a":1}`))
		}, ""),
	}})
	tests := []struct {
		target, rng string
		status      int
		body, ctype string
	}{
		{"/files/docs/a.txt", "", 200, "0123456789", "text/plain; charset=utf-8"},
		{"/files/docs/a.txt", "bytes=2-4", 206, "234", "text/plain; charset=utf-8"},
		{"/files/docs/sub", "", 404, "", ""},
		{"/files/docs/nope.txt", "", 404, "", ""},
		{"/files/../etc/passwd", "", 404, "", ""},
		{"/inline/", "", 200, `{"a":1}`, "application/json"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", tt.target, nil)
		if tt.rng != "" {
			r.Header.Set("Range", tt.rng)
		}
		w := httptest.NewRecorder()
		app.ServeHTTP(w, r)
		if w.Code != tt.status || tt.status < 300 && (w.Body.String() != tt.body || w.Header().Get("Content-Type") != tt.ctype) {
			t.Errorf("%s %s: %d %q %q; want %d %q %q", tt.target, tt.rng, w.Code, w.Body, w.Header().Get("Content-Type"), tt.status, tt.body, tt.ctype)
		}
	}
}
