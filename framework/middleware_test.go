package framework

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/framework/internal/csrf"
	"github.com/stack-web/stack/framework/internal/sessioncookie"
)

var fixtureTemplates = map[string]string{
	"base.html": `<!doctype html><title>{{block "title" .}}site{{end}}</title>` +
		`{{with .messages.All}}<ul class="messages">{{range .}}<li class="{{.Tags}}">{{.}}</li>{{end}}</ul>{{end}}` +
		`{{block "content" .}}{{end}}`,
	"form.html": `{{extends "base.html"}}{{define "content"}}<form method="post" action="{{url "submit"}}">{{csrf_field $}}</form>{{end}}`,
	"polls/detail.html": `{{extends "base.html"}}{{define "content"}}<a href="{{url "detail" .id}}">{{.id}}</a>` +
		`<link href="{{static "polls/style.css"}}">{{range .items}}{{csrf_field $}}{{end}}{{if .debug}}DEBUG{{end}}` +
		`<i>{{.csrf_token}}</i>{{end}}`,
	"404.html": `custom 404: {{.message}}`,
}

// fixture is a complete app: templates, the default middleware, views
// for every middleware behaviour.
func fixture(t testing.TB, s Settings, logs *logBuffer) *App {
	t.Helper()
	text := func(body string) View {
		return func(w http.ResponseWriter, r *Request) error { _, err := io.WriteString(w, body); return err }
	}
	urls := []Pattern{
		Path("form/", func(w http.ResponseWriter, r *Request) error { return r.Render(w, "form.html", nil) }, "form"),
		Path("submit/", func(w http.ResponseWriter, r *Request) error {
			form, err := r.FormValues()
			if err != nil {
				return err
			}
			_, err = io.WriteString(w, "ok "+form.Get("x"))
			return err
		}, "submit").Methods(http.MethodPost),
		Path("hook/", text("exempt"), "hook").Methods(http.MethodPost).CSRFExempt(),
		Path("json/", func(w http.ResponseWriter, r *Request) error {
			var v map[string]any
			if err := r.DecodeJSON(&v); err != nil {
				return err
			}
			return r.JSON(w, http.StatusCreated, v)
		}, "json").CSRFExempt(),
		Path("rawform/", func(w http.ResponseWriter, r *Request) error {
			if _, err := r.FormValues(); err != nil {
				return err
			}
			_, err := io.WriteString(w, "parsed")
			return err
		}, "rawform").CSRFExempt(),
		Path("flash/", func(w http.ResponseWriter, r *Request) error {
			r.Messages().Success("Saved <b>")
			r.Messages().Warning("Careful")
			return r.RedirectTo(w, "messages")
		}, "flash"),
		Path("messages/", func(w http.ResponseWriter, r *Request) error { return r.Render(w, "base.html", nil) }, "messages"),
		Path("session/set/", func(w http.ResponseWriter, r *Request) error {
			r.Session().Set("v", r.Query().Get("v"))
			r.Session().Set("n", 41)
			return nil
		}, ""),
		Path("session/get/", func(w http.ResponseWriter, r *Request) error {
			n, _ := r.Session().GetInt("n")
			_, err := io.WriteString(w, "v="+r.Session().GetString("v")+" n="+strconv.Itoa(n))
			return err
		}, ""),
		Path("session/clear/", func(w http.ResponseWriter, r *Request) error { r.Session().Clear(); return nil }, ""),
		Path("panic/", func(w http.ResponseWriter, r *Request) error { panic("boom <b>") }, ""),
		Path("fail/", func(w http.ResponseWriter, r *Request) error { return io.ErrUnexpectedEOF }, ""),
		Path("missing/", func(w http.ResponseWriter, r *Request) error { return NotFound("no such <thing>") }, ""),
		Path("detail/<int:id>/", func(w http.ResponseWriter, r *Request) error {
			return r.Render(w, "polls/detail.html", Context{"id": r.Int("id"), "items": []int{1, 2}})
		}, "detail"),
		Path("stream/", func(w http.ResponseWriter, r *Request) error {
			return r.Stream(w, "text/plain", func(w io.Writer) error {
				for _, s := range []string{"a\n", "b\n"} {
					if _, err := io.WriteString(w, s); err != nil {
						return err
					}
				}
				return nil
			})
		}, ""),
	}
	return newApp(t, s, Config{
		URLs:   urls,
		Apps:   []AppConfig{{Name: "t", Templates: mapFS(fixtureTemplates), Static: mapFS(map[string]string{"polls/style.css": "body{}"})}},
		Logger: newLogger(logs),
	})
}

var tokenRE = regexp.MustCompile(`name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"`)

// formToken GETs the form page and returns the CSRF token in it.
func formToken(t *testing.T, c *client, target string) string {
	t.Helper()
	w := c.get(target)
	m := tokenRE.FindStringSubmatch(w.Body.String())
	if w.Code != 200 || m == nil {
		t.Fatalf("GET %s: %d, no token in %q", target, w.Code, w.Body)
	}
	if len(m[1]) != csrf.TokenLen {
		t.Fatalf("token %q has length %d, want %d", m[1], len(m[1]), csrf.TokenLen)
	}
	return m[1]
}

func TestCSRF(t *testing.T) {
	s := testSettings()
	s.CSRFTrustedOrigins = []string{"https://*.trusted.example", "http://partner.example"}
	logs := &logBuffer{}
	app := fixture(t, s, logs)
	c := newClient(t, app)
	tok := formToken(t, c, "/form/")
	if c.cookies["sessionid"] == nil {
		t.Fatal("the form page did not set the session cookie that holds the CSRF secret")
	}
	tok2 := formToken(t, c, "/form/")
	if tok2 == tok {
		t.Error("the token is not masked afresh for each response")
	}
	otherSecret := csrf.Mask(csrf.NewSecret())
	tests := []struct {
		name   string
		target string
		form   string
		header http.Header
		fresh  bool // a client without the session cookie
		status int
		want   string
	}{
		{"no token", "/submit/", "x=1", nil, false, 403, "CSRF token missing."},
		{"token from the form", "/submit/", "x=1&csrfmiddlewaretoken=" + tok, nil, false, 200, "ok 1"},
		{"an older masked token still works", "/submit/", "x=2&csrfmiddlewaretoken=" + tok2, nil, false, 200, "ok 2"},
		{"token in the header", "/submit/", "x=3", http.Header{"X-Csrftoken": {tok}}, false, 200, "ok 3"},
		{"unmasked secret accepted", "/submit/", "x=4&csrfmiddlewaretoken=" + csrf.Unmask(tok), nil, false, 200, "ok 4"},
		{"token of another session", "/submit/", "csrfmiddlewaretoken=" + otherSecret, nil, false, 403, "CSRF token from POST incorrect."},
		{"token of another session, header", "/submit/", "", http.Header{"X-Csrftoken": {otherSecret}}, false, 403, "CSRF token from the 'X-CSRFToken' HTTP header incorrect."},
		{"wrong length", "/submit/", "csrfmiddlewaretoken=abc", nil, false, 403, "has incorrect length."},
		{"invalid characters", "/submit/", "csrfmiddlewaretoken=" + strings.Repeat("!", 64), nil, false, 403, "has invalid characters."},
		{"no session", "/submit/", "csrfmiddlewaretoken=" + tok, nil, true, 403, "CSRF session token not set."},
		{"exempt view", "/hook/", "", nil, true, 200, "exempt"},
		{"cross origin", "/submit/", "csrfmiddlewaretoken=" + tok, http.Header{"Origin": {"http://evil.example"}}, false, 403, "Origin checking failed - http://evil.example does not match any trusted origins."},
		{"same origin", "/submit/", "x=5&csrfmiddlewaretoken=" + tok, http.Header{"Origin": {"http://example.com"}}, false, 200, "ok 5"},
		{"trusted origin", "/submit/", "x=6&csrfmiddlewaretoken=" + tok, http.Header{"Origin": {"http://partner.example"}}, false, 200, "ok 6"},
		{"https origin while http", "/submit/", "csrfmiddlewaretoken=" + tok, http.Header{"Origin": {"https://example.com"}}, false, 403, "Origin checking failed"},
		{"https: no referer", "https://example.com/submit/", "csrfmiddlewaretoken=" + tok, nil, false, 403, "Referer checking failed - no Referer."},
		{"https: insecure referer", "https://example.com/submit/", "csrfmiddlewaretoken=" + tok, http.Header{"Referer": {"http://example.com/form/"}}, false, 403, "Referer is insecure while host is secure."},
		{"https: foreign referer", "https://example.com/submit/", "csrfmiddlewaretoken=" + tok, http.Header{"Referer": {"https://evil.example/"}}, false, 403, "Referer checking failed - https://evil.example/ does not match any trusted origins."},
		{"https: malformed referer", "https://example.com/submit/", "csrfmiddlewaretoken=" + tok, http.Header{"Referer": {"::"}}, false, 403, "Referer is malformed."},
		{"https: same-site referer", "https://example.com/submit/", "x=7&csrfmiddlewaretoken=" + tok, http.Header{"Referer": {"https://example.com/form/"}}, false, 200, "ok 7"},
		{"https: trusted wildcard referer", "https://example.com/submit/", "x=8&csrfmiddlewaretoken=" + tok, http.Header{"Referer": {"https://a.trusted.example/x"}}, false, 200, "ok 8"},
		{"https: trusted wildcard origin", "https://example.com/submit/", "x=9&csrfmiddlewaretoken=" + tok, http.Header{"Origin": {"https://b.trusted.example"}}, false, 200, "ok 9"},
		{"https: same origin", "https://example.com/submit/", "x=10&csrfmiddlewaretoken=" + tok, http.Header{"Origin": {"https://example.com"}}, false, 200, "ok 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := c
			if tt.fresh {
				cl = newClient(t, app)
			}
			w := cl.postForm(tt.target, tt.form, tt.header)
			// A refusal's reason is logged; the page (debug off) only
			// says that CSRF verification failed.
			where := w.Body.String()
			if tt.status == 403 {
				where = logs.String()
			}
			if w.Code != tt.status || !strings.Contains(where, tt.want) {
				t.Fatalf("status %d body %q; want %d with %q (log: %s)", w.Code, w.Body, tt.status, tt.want, logs)
			}
			if tt.status == 403 && !strings.Contains(w.Body.String(), "CSRF verification failed") {
				t.Errorf("403 page does not say it is CSRF: %q", w.Body)
			}
		})
	}
}

func TestSessionCookie(t *testing.T) {
	app := fixture(t, testSettings(), &logBuffer{})
	c := newClient(t, app)
	w := c.get("https://example.com/session/set/?v=hello")
	ck := c.cookies["sessionid"]
	if ck == nil {
		t.Fatal("no session cookie after Set")
	}
	raw := w.Header().Get("Set-Cookie")
	for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Secure", "Path=/", "Max-Age=1209600"} {
		if !strings.Contains(raw, attr) {
			t.Errorf("Set-Cookie %q lacks %s", raw, attr)
		}
	}
	w = c.get("/session/get/")
	if got := w.Body.String(); got != "v=hello n=41" {
		t.Fatalf("session read back %q, want %q", got, "v=hello n=41")
	}
	if w.Header().Get("Set-Cookie") != "" {
		t.Error("an unmodified session was sent again")
	}
	if !strings.Contains(w.Header().Get("Vary"), "Cookie") {
		t.Error("a response that read the session lacks Vary: Cookie")
	}
	w = c.get("/session/set/?v=plain") // over HTTP: no Secure
	if strings.Contains(w.Header().Get("Set-Cookie"), "Secure") {
		t.Error("cookie set over plain HTTP is Secure")
	}

	good := c.cookies["sessionid"].Value
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for name, value := range map[string]string{
		"tampered payload":   flip(good, 3),
		"tampered signature": flip(good, len(good)-3),
		"no signature":       good[:strings.LastIndexByte(good, '.')],
		"garbage":            "%%%not-base64%%%",
		"empty":              "",
		"signature only":     "." + good[strings.LastIndexByte(good, '.')+1:],
	} {
		t.Run(name, func(t *testing.T) {
			bad := newClient(t, app)
			bad.cookies["sessionid"] = &http.Cookie{Name: "sessionid", Value: value}
			w := bad.get("/session/get/")
			if w.Code != 200 || w.Body.String() != "v= n=0" {
				t.Fatalf("a %s cookie gave %d %q, want an empty session", name, w.Code, w.Body)
			}
		})
	}

	// Clear deletes the cookie.
	w = c.get("/session/clear/")
	if !strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("Clear did not delete the cookie: %q", w.Header().Get("Set-Cookie"))
	}
}

func TestSessionExpired(t *testing.T) {
	app := fixture(t, testSettings(), &logBuffer{})
	c := newClient(t, app)
	c.get("/session/set/?v=old")
	good := c.cookies["sessionid"].Value

	// A Sessions middleware with the same secret derives the same key:
	// use its store to re-sign the payload with an expiry in the past.
	var store *sessioncookie.Store
	Sessions(testSettings())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		store = FromRequest(r).sessions
	})).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	d, ok := store.Decode(good, time.Now().Unix())
	if !ok || d.Values["v"] != "old" {
		t.Fatalf("decode of a good cookie: %v %v", d, ok)
	}
	d.Expires = time.Now().Add(-time.Minute).Unix()
	expired, err := store.Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	c.cookies["sessionid"].Value = expired
	if w := c.get("/session/get/"); w.Code != 200 || w.Body.String() != "v= n=0" {
		t.Fatalf("expired cookie gave %d %q, want an empty session", w.Code, w.Body)
	}
}
