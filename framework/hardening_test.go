package framework

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/framework/security"
)

// Review item 1: the CSRF 403 page gives its reason (which echoes a
// foreign Origin or a whole Referer) in debug only; the log always has it.
func TestCSRFReasonOnlyInDebug(t *testing.T) {
	for _, debug := range []bool{false, true} {
		s := testSettings()
		s.Debug = debug
		logs := &logBuffer{}
		c := newClient(t, fixture(t, s, logs))
		tok := formToken(t, c, "/form/")
		w := c.postForm("/submit/", "csrfmiddlewaretoken="+tok, http.Header{"Origin": {"http://evil.example"}})
		if w.Code != 403 || !strings.Contains(w.Body.String(), "CSRF verification failed") {
			t.Fatalf("debug=%v: %d %q", debug, w.Code, w.Body)
		}
		if shown := strings.Contains(w.Body.String(), "evil.example"); shown != debug {
			t.Errorf("debug=%v: the page shows the reason: %v\n%s", debug, shown, w.Body)
		}
		if !strings.Contains(logs.String(), "Origin checking failed - http://evil.example") {
			t.Errorf("debug=%v: the reason is not logged: %s", debug, logs)
		}
	}
}

// Review item 2: an absolute-form request line ("GET https://host/ HTTP/1.1")
// sent over plain HTTP to a plain net/http server is not HTTPS: no Secure
// cookie. Only the server's TLS (or a trusted proxy header) makes it so.
func TestIsSecureIgnoresAbsoluteFormRequestLine(t *testing.T) {
	app := fixture(t, testSettings(), &logBuffer{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		app.ServeHTTP(w, r)
	}))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, "GET https://example.com/session/set/?v=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ck := resp.Header.Get("Set-Cookie")
	if resp.StatusCode != 200 || ck == "" {
		t.Fatalf("%d, Set-Cookie %q", resp.StatusCode, ck)
	}
	if strings.Contains(ck, "Secure") {
		t.Errorf("plain HTTP with an https:// request line set a Secure cookie: %s", ck)
	}
	// The same request through a real TLS server is HTTPS.
	tlsSrv := httptest.NewTLSServer(app)
	defer tlsSrv.Close()
	req, _ := http.NewRequest("GET", tlsSrv.URL+"/session/set/?v=1", nil)
	req.Host = "example.com"
	resp, err = tlsSrv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ck := resp.Header.Get("Set-Cookie"); !strings.Contains(ck, "Secure") {
		t.Errorf("over TLS the cookie is not Secure: %q", ck)
	}
}

// Review item 3: the debug 500 page masks every header and setting whose
// name matches Django's API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|COOKIE.
func TestDebug500MasksSensitiveNames(t *testing.T) {
	s := testSettings()
	s.Debug = true
	s.SecretKeyFallbacks = []string{"old-fallback-secret-value"}
	s.Database = "postgres://app:db-password-value@db.example/polls"
	c := newClient(t, fixture(t, s, &logBuffer{}))
	secrets := map[string]string{
		"X-Api-Key":           "api-key-value",
		"X-Auth-Token":        "auth-token-value",
		"Authorization":       "Bearer authorization-value",
		"Proxy-Authorization": "Basic proxy-value",
		"Cookie":              "sessionid=cookie-value",
		"X-Hub-Signature":     "signature-value",
		"X-Client-Secret":     "client-secret-value",
		"X-Password":          "password-value",
		"X-Csrftoken":         "csrftoken-value",
	}
	h := http.Header{"X-Plain": {"plain-value"}}
	for k, v := range secrets {
		h.Set(k, v)
	}
	w := c.do("GET", "/panic/", nil, h)
	body := w.Body.String()
	if w.Code != 500 || !strings.Contains(body, "plain-value") {
		t.Fatalf("%d: the debug page lost the plain header:\n%s", w.Code, body)
	}
	for k, v := range secrets {
		if strings.Contains(body, v) {
			t.Errorf("%s's value is on the debug page", k)
		}
	}
	for _, v := range []string{testKey, "old-fallback-secret-value", "db-password-value"} {
		if strings.Contains(body, v) {
			t.Errorf("setting value %q is on the debug page", v)
		}
	}
	if !strings.Contains(body, "allowed_hosts") || !strings.Contains(body, "db.example") {
		t.Errorf("the settings are not listed:\n%s", body)
	}
}

// Review item 4: a weak secret_key with debug off is flagged (logged by
// New, warned by `stack check`, listed by check --deploy) by Django's rule.
func TestWeakSecretKey(t *testing.T) {
	for _, tt := range []struct {
		key  string
		weak bool
	}{
		{"x", true},
		{strings.Repeat("ab", 40), true},            // 80 characters, 2 unique
		{strings.Repeat("abcd", 20), true},          // 4 unique
		{strings.Repeat("abcde", 9) + "abcd", true}, // 49 characters
		{strings.Repeat("abcde", 10), false},
		{testKey, false},
		{"django-insecure-" + testKey, true}, // startproject's, Django's W009 too (break-it 15)
	} {
		if got := security.WeakSecretKey(tt.key); got != tt.weak {
			t.Errorf("WeakSecretKey(%q) = %v, want %v", tt.key, got, tt.weak)
		}
	}
	s := testSettings()
	s.Name = "polls"
	s.SecretKey = "x"
	logs := &logBuffer{}
	fixture(t, s, logs)
	if !strings.Contains(logs.String(), "apps.polls.secret_key: has less than 50 characters") {
		t.Errorf("New did not flag the weak key: %s", logs)
	}
	if w := s.Warnings(); len(w) != 1 || !strings.Contains(w[0], "security.W009") {
		t.Errorf("Warnings: %q", w)
	}
	s.Debug = true
	if w := s.Warnings(); len(w) != 0 {
		t.Errorf("in debug the key is not a concern: %q", w)
	}
}

// Review item 5: a relative Redirect from a view inside a Mount keeps the
// mount prefix.
func TestRelativeRedirectInMount(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		FromRequest(r).Redirect(w, r.URL.Query().Get("to"))
	})
	app := newApp(t, testSettings(), Config{URLs: []Pattern{Mount("api/", h, "api")}})
	c := newClient(t, app)
	for to, want := range map[string]string{
		"next":            "/api/items/next",
		"../up":           "/api/up",
		"?page=2":         "/api/items/?page=2", // net/http's rule, relative to the directory
		"/elsewhere":      "/elsewhere",
		"https://x.test/": "https://x.test/",
	} {
		w := c.get("http://example.com/api/items/list?to=" + strings.ReplaceAll(strings.ReplaceAll(to, "?", "%3F"), "=", "%3D"))
		if got := w.Header().Get("Location"); w.Code != 302 || got != want {
			t.Errorf("Redirect(%q) from /api/items/list: %d Location %q, want %q", to, w.Code, got, want)
		}
	}
}

// Review item 6: CycleKey changes the session cookie's value and keeps the
// data; RotateCSRFToken makes the old CSRF token fail.
func TestCycleKeyAndRotateToken(t *testing.T) {
	app := newApp(t, testSettings(), Config{URLs: []Pattern{
		Path("set/", func(w http.ResponseWriter, r *Request) error {
			r.Session().Set("user", "ann")
			_, err := io.WriteString(w, r.CSRFToken())
			return err
		}, ""),
		Path("cycle/", func(w http.ResponseWriter, r *Request) error {
			r.Session().CycleKey()
			r.RotateCSRFToken()
			_, err := io.WriteString(w, r.Session().GetString("user"))
			return err
		}, ""),
		Path("post/", func(w http.ResponseWriter, r *Request) error { return nil }, ""),
	}})
	c := newClient(t, app)
	tok := c.get("http://example.com/set/").Body.String()
	before := c.cookies["sessionid"].Value
	if w := c.get("http://example.com/cycle/"); w.Body.String() != "ann" {
		t.Fatalf("CycleKey lost the data: %q", w.Body)
	}
	after := c.cookies["sessionid"].Value
	if after == before {
		t.Error("CycleKey did not change the session cookie")
	}
	if w := c.postForm("http://example.com/post/", "csrfmiddlewaretoken="+tok, nil); w.Code != 403 {
		t.Errorf("a token from before RotateCSRFToken was accepted: %d", w.Code)
	}
}

// Review item 6: secret_key_fallbacks: a session signed with a previous
// key is still read; without the fallback it is not.
func TestSecretKeyFallbacks(t *testing.T) {
	views := Config{URLs: []Pattern{
		Path("set/", func(w http.ResponseWriter, r *Request) error { r.Session().Set("v", "kept"); return nil }, ""),
		Path("get/", func(w http.ResponseWriter, r *Request) error {
			_, err := io.WriteString(w, r.Session().GetString("v"))
			return err
		}, ""),
	}}
	old := testSettings()
	old.SecretKey = "the-old-key-" + strings.Repeat("0123456789", 5)
	c := newClient(t, newApp(t, old, views))
	c.get("http://example.com/set/")
	rotated := testSettings()
	other := newClient(t, newApp(t, rotated, views))
	other.cookies = c.cookies
	if w := other.get("http://example.com/get/"); w.Body.String() != "" {
		t.Errorf("a session signed with another key was accepted: %q", w.Body)
	}
	rotated.SecretKeyFallbacks = []string{old.SecretKey}
	next := newClient(t, newApp(t, rotated, views))
	next.cookies = c.cookies
	if w := next.get("http://example.com/get/"); w.Body.String() != "kept" {
		t.Errorf("with the old key in secret_key_fallbacks the session was lost: %q", w.Body)
	}
}

func TestSafeRedirect(t *testing.T) {
	app := newApp(t, testSettings(), Config{URLs: []Pattern{
		Path("login/", func(w http.ResponseWriter, r *Request) error {
			return r.SafeRedirect(w, r.Query().Get("next"), "/home/")
		}, ""),
	}})
	c := newClient(t, app)
	for next, want := range map[string]string{
		"/polls/1/":             "/polls/1/",
		"http://example.com/a":  "http://example.com/a",
		"https://evil.example/": "/home/",
		"//evil.example/":       "/home/",
		"":                      "/home/",
		"javascript:alert(1)":   "/home/",
	} {
		w := c.get("http://example.com/login/?next=" + next)
		if got := w.Header().Get("Location"); got != want {
			t.Errorf("next=%q: Location %q, want %q", next, got, want)
		}
	}
}

func TestHTTPSSettings(t *testing.T) {
	s := testSettings()
	s.SecureSSLRedirect = true
	s.SecureHSTSSeconds = 3600
	s.SessionCookieSecure = true
	c := newClient(t, fixture(t, s, &logBuffer{}))
	w := c.get("http://example.com/form/?a=1")
	if w.Code != 301 || w.Header().Get("Location") != "https://example.com/form/?a=1" {
		t.Errorf("plain HTTP: %d %q, want 301 to https", w.Code, w.Header().Get("Location"))
	}
	if w := c.do("GET", "http://example.com/form/", nil, http.Header{"Host": {"evil.example"}}); w.Code != 400 {
		t.Errorf("a foreign Host got %d (Location %q), want 400 before any redirect", w.Code, w.Header().Get("Location"))
	}
	w = c.get("https://example.com/form/")
	if w.Code != 200 || w.Header().Get("Strict-Transport-Security") != "max-age=3600" {
		t.Errorf("HTTPS: %d HSTS %q", w.Code, w.Header().Get("Strict-Transport-Security"))
	}
	// session_cookie_secure: Secure even when the app sees plain HTTP (a
	// proxy in front terminates TLS and the app is not told).
	s.SecureSSLRedirect = false
	c = newClient(t, fixture(t, s, &logBuffer{}))
	if ck := c.get("http://example.com/form/").Header().Get("Set-Cookie"); !strings.Contains(ck, "Secure") {
		t.Errorf("session_cookie_secure: cookie %q", ck)
	}
	if w := c.get("http://example.com/form/"); w.Header().Get("Strict-Transport-Security") != "" {
		t.Error("HSTS sent over plain HTTP")
	}
}

// Each of Django's deploy checks that applies here, one at a time.
func TestDeployWarnings(t *testing.T) {
	good := Settings{Name: "polls", SecretKey: testKey, AllowedHosts: []string{"example.com"},
		SecureSSLRedirect: true, SecureHSTSSeconds: 31536000, SessionCookieSecure: true}
	if w := good.DeployWarnings(); len(w) != 0 {
		t.Fatalf("a deployable configuration has warnings: %q", w)
	}
	for _, tt := range []struct {
		change func(*Settings)
		want   string
	}{
		{func(s *Settings) { s.Debug = true }, "apps.polls.debug: is true"},
		{func(s *Settings) { s.SecretKey = "short" }, "apps.polls.secret_key: has less than 50 characters"},
		{func(s *Settings) { s.SecretKey = "" }, "apps.polls.secret_key: is empty"},
		{func(s *Settings) { s.SecretKeyFallbacks = []string{"old"} }, "apps.polls.secret_key_fallbacks[0]"},
		{func(s *Settings) { s.AllowedHosts = nil }, "apps.polls.allowed_hosts: is empty"},
		{func(s *Settings) { s.SecureSSLRedirect = false }, "apps.polls.secure_ssl_redirect: is false"},
		{func(s *Settings) { s.SecureHSTSSeconds = 0 }, "apps.polls.secure_hsts_seconds: is 0"},
		{func(s *Settings) { s.SessionCookieSecure = false }, "apps.polls.session_cookie_secure: is false"},
	} {
		s := good
		tt.change(&s)
		w := s.DeployWarnings()
		if len(w) != 1 || !strings.HasPrefix(w[0], tt.want) || !strings.Contains(w[0], "(security.W") {
			t.Errorf("want one warning %q, got %q", tt.want, w)
		}
	}
}
