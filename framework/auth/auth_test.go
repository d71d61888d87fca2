package auth

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	_ "modernc.org/sqlite"

	"github.com/stack-web/stack/framework"
)

// cheap is a hasher fast enough for tests; production uses DefaultHasher.
var cheap = Hasher{Time: 1, Memory: 1024, Threads: 1}

func openDB(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "auth.db")+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// clock is a settable time for throttling windows.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newAuth(t testing.TB, h Hasher) (*Auth, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 29, 23, 0, 0, 0, time.UTC)}
	a, err := New(openDB(t), Options{SecretKey: "k", Hasher: &h, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return a, c
}

func TestHashRoundTrip(t *testing.T) {
	enc := cheap.Hash("correct horse")
	if !strings.HasPrefix(enc, "argon2$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("hash %q does not carry its parameters in Django's format", enc)
	}
	if enc == cheap.Hash("correct horse") {
		t.Error("two hashes of one password are equal: no salt")
	}
	if ok, up := cheap.Verify("correct horse", enc); !ok || up {
		t.Errorf("Verify(right) = %v, upgrade %v", ok, up)
	}
	if ok, _ := cheap.Verify("correct horsf", enc); ok {
		t.Error("a wrong password verified")
	}
	stronger := Hasher{Time: 2, Memory: 2048, Threads: 2}
	if ok, up := stronger.Verify("correct horse", enc); !ok || !up {
		t.Errorf("a hash with older parameters: ok %v, upgrade %v (want true, true)", ok, up)
	}
	for _, bad := range []string{"", "!", "pbkdf2_sha256$1$a$b", "argon2$argon2id$v=19$m=0,t=1,p=1$AAAA$AAAA", "argon2$argon2id$v=19$m=1024,t=1,p=1$%%%$AAAA"} {
		if ok, _ := cheap.Verify("x", bad); ok {
			t.Errorf("Verify against %q succeeded", bad)
		}
	}
	// Django's own hash of "password" with these parameters reads the same.
	const django = "argon2$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHQxMjM0NTY$"
	key := cheap.encode("password", []byte("somesalt123456"))
	if !strings.HasPrefix(key, django) {
		t.Errorf("encoding %q, want prefix %q", key, django)
	}
}

func TestUpgradeAtLogin(t *testing.T) {
	old := Hasher{Time: 1, Memory: 512, Threads: 1}
	a, _ := newAuth(t, old)
	ctx := context.Background()
	if err := a.CreateSuperuser(ctx, "admin", "admin@example.com", "s3cret-pass"); err != nil {
		t.Fatal(err)
	}
	// The site raises its parameters; the stored hash is the old one.
	a.hasher = cheap
	if _, err := a.Authenticate(ctx, "admin", "wrong", "10.0.0.1"); err != ErrInvalidLogin {
		t.Fatalf("wrong password: %v", err)
	}
	var stored string
	a.db.QueryRow(`SELECT password FROM auth_user WHERE username = 'admin'`).Scan(&stored)
	if !strings.Contains(stored, "m=512,t=1,p=1") {
		t.Fatalf("a failed login changed the hash: %s", stored)
	}
	u, err := a.Authenticate(ctx, "admin", "s3cret-pass", "10.0.0.1")
	if err != nil || !u.IsSuperuser || !u.IsStaff {
		t.Fatalf("login: %v %+v", err, u)
	}
	a.db.QueryRow(`SELECT password FROM auth_user WHERE username = 'admin'`).Scan(&stored)
	if !strings.Contains(stored, "m=1024,t=1,p=1") {
		t.Errorf("the hash was not upgraded at login: %s", stored)
	}
	if _, err := a.Authenticate(ctx, "admin", "s3cret-pass", "10.0.0.1"); err != nil {
		t.Errorf("login with the upgraded hash: %v", err)
	}
}

func TestThrottling(t *testing.T) {
	a, clk := newAuth(t, cheap)
	a.throttle = Throttle{PerUser: 3, PerAddress: 5, Window: 10 * time.Minute}
	ctx := context.Background()
	a.CreateUser(ctx, "ann", "", "ann-password", false, false)
	a.CreateUser(ctx, "bob", "", "bob-password", false, false)
	for i := range 3 {
		if _, err := a.Authenticate(ctx, "ann", "guess", "10.0.0.1"); err != ErrInvalidLogin {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	// The username is locked, even with the right password, from anywhere.
	for _, addr := range []string{"10.0.0.1", "10.9.9.9"} {
		if _, err := a.Authenticate(ctx, "ANN", "ann-password", addr); err != ErrThrottled {
			t.Errorf("from %s after 3 failures: %v, want ErrThrottled", addr, err)
		}
	}
	// The address has 2 failures left: other usernames from it.
	a.Authenticate(ctx, "nobody", "x", "10.0.0.1")
	a.Authenticate(ctx, "bob", "x", "10.0.0.1")
	if _, err := a.Authenticate(ctx, "bob", "bob-password", "10.0.0.1"); err != ErrThrottled {
		t.Errorf("5 failures from one address: %v, want ErrThrottled", err)
	}
	if _, err := a.Authenticate(ctx, "bob", "bob-password", "10.0.0.2"); err != nil {
		t.Errorf("bob from another address: %v", err)
	}
	// The window passes; its rows are forgotten at the next failure.
	clk.add(11 * time.Minute)
	a.Authenticate(ctx, "zed", "x", "10.9.9.8")
	var rows int
	a.db.QueryRow(`SELECT COUNT(*) FROM auth_throttle`).Scan(&rows)
	if rows != 2 {
		t.Errorf("%d throttle rows after the window, want the new failure's 2", rows)
	}
	if _, err := a.Authenticate(ctx, "ann", "ann-password", "10.0.0.1"); err != nil {
		t.Errorf("after the window: %v", err)
	}
	// Success resets the username's count.
	for range 2 {
		a.Authenticate(ctx, "ann", "guess", "10.0.0.3")
	}
	a.Authenticate(ctx, "ann", "ann-password", "10.0.0.3")
	for range 2 {
		a.Authenticate(ctx, "ann", "guess", "10.0.0.4")
	}
	if _, err := a.Authenticate(ctx, "ann", "ann-password", "10.0.0.4"); err != nil {
		t.Errorf("a success did not reset the count: %v", err)
	}
}

func TestUsersStore(t *testing.T) {
	a, _ := newAuth(t, cheap)
	ctx := context.Background()
	if _, err := a.CreateUser(ctx, "bad name", "", "x", false, false); err == nil {
		t.Error("a username with a space was accepted")
	}
	a.CreateUser(ctx, "ann", "", "first-password", true, false)
	if _, err := a.CreateUser(ctx, "ann", "", "x", false, false); err == nil || !strings.Contains(err.Error(), "already taken") {
		t.Errorf("duplicate: %v", err)
	}
	if err := a.SetPassword(ctx, "ann", "second-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, "ann", "first-password", "a"); err != ErrInvalidLogin {
		t.Errorf("old password: %v", err)
	}
	if err := a.SetPassword(ctx, "zed", "x"); err == nil {
		t.Error("SetPassword of an unknown user succeeded")
	}
	a.GrantPermission(ctx, "ann", "polls.change_question")
	u, err := a.GetUser(ctx, "ann")
	if err != nil || !u.HasPerm("polls.change_question") || u.HasPerm("polls.delete_question") {
		t.Errorf("permissions: %v %v", err, u.perms)
	}
	if err := ValidatePassword("1234567890", ""); err == nil || !strings.Contains(err.Error(), "entirely numeric") {
		t.Errorf("numeric: %v", err)
	}
	if err := ValidatePassword("short", ""); err == nil {
		t.Error("short password accepted")
	}
	if err := ValidatePassword("a-good-passphrase", "ann"); err != nil {
		t.Error(err)
	}
}

var tokenRE = regexp.MustCompile(`name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"`)

// site is a framework app with auth's views and a protected page.
func site(t *testing.T, a *Auth) http.Handler {
	t.Helper()
	tpl := fstest.MapFS{"login.html": {Data: []byte(`<form method="post">{{csrf_field $}}{{.form.AsP}}<input type="hidden" name="next" value="{{.next}}"></form>`)}}
	app, err := framework.New(framework.Settings{SecretKey: strings.Repeat("secret-key-", 6), AllowedHosts: []string{"example.com"}}, framework.Config{
		URLs: []framework.Pattern{
			framework.Path("login/", a.LoginView("login.html", "/"), "login"),
			framework.Path("logout/", a.LogoutView("/"), "logout"),
			framework.Mount("private/", a.LoginRequired("/login/")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				u, _ := a.User(framework.FromRequest(r))
				io.WriteString(w, "hello "+u.Username)
			})), "private"),
			framework.Mount("secret/", a.PermissionRequired("site.see_secret", "/login/")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "the secret")
			})), "secret"),
		},
		Apps: []framework.AppConfig{{Name: "t", Templates: tpl}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// browser keeps cookies over an httptest server.
type browser struct {
	t   *testing.T
	c   *http.Client
	url string
}

func newBrowser(t *testing.T, h http.Handler) *browser {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	jar := &jarOf{cookies: map[string]*http.Cookie{}}
	return &browser{t: t, url: srv.URL, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// jarOf is a one-site cookie jar that shows the raw session value.
type jarOf struct {
	mu      sync.Mutex
	cookies map[string]*http.Cookie
}

func (j *jarOf) SetCookies(_ *url.URL, cs []*http.Cookie) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range cs {
		if c.MaxAge < 0 {
			delete(j.cookies, c.Name)
		} else {
			j.cookies[c.Name] = c
		}
	}
}

func (j *jarOf) Cookies(*url.URL) []*http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []*http.Cookie
	for _, c := range j.cookies {
		out = append(out, &http.Cookie{Name: c.Name, Value: c.Value})
	}
	return out
}

func (b *browser) session() string {
	j := b.c.Jar.(*jarOf)
	j.mu.Lock()
	defer j.mu.Unlock()
	if c := j.cookies["sessionid"]; c != nil {
		return c.Value
	}
	return ""
}

func (b *browser) do(method, path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest(method, b.url+path, strings.NewReader(form.Encode()))
	req.Host = "example.com"
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (b *browser) token(path string) string {
	b.t.Helper()
	_, page := b.do("GET", path, nil)
	m := tokenRE.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no CSRF token on %s:\n%s", path, page)
	}
	return m[1]
}

func TestLoginCyclesSessionAndRotatesToken(t *testing.T) {
	a, _ := newAuth(t, cheap)
	a.CreateUser(context.Background(), "ann", "", "ann-password", false, false)
	b := newBrowser(t, site(t, a))

	resp, _ := b.do("GET", "/private/page?x=1", nil)
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "/login/?next=%2Fprivate%2Fpage%3Fx%3D1" {
		t.Fatalf("anonymous: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	tok := b.token("/login/?next=/private/page")
	before := b.session()
	if before == "" {
		t.Fatal("the login page set no session")
	}
	resp, body := b.do("POST", "/login/", url.Values{"csrfmiddlewaretoken": {tok}, "username": {"ann"}, "password": {"wrong"}})
	if resp.StatusCode != 200 || !strings.Contains(body, "Please enter a correct username and password.") || !strings.Contains(body, `value="ann"`) {
		t.Fatalf("wrong password: %d\n%s", resp.StatusCode, body)
	}
	resp, _ = b.do("POST", "/login/", url.Values{"csrfmiddlewaretoken": {tok}, "username": {"ann"}, "password": {"ann-password"}, "next": {"/private/page"}})
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "/private/page" {
		t.Fatalf("login: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	after := b.session()
	if after == before || after == "" {
		t.Error("the session cookie value did not change at login")
	}
	if _, body := b.do("GET", "/private/page", nil); body != "hello ann" {
		t.Errorf("after login: %q", body)
	}
	// The token from before login was rotated away.
	if resp, _ := b.do("POST", "/logout/", url.Values{"csrfmiddlewaretoken": {tok}}); resp.StatusCode != 403 {
		t.Errorf("a pre-login CSRF token still works: %d", resp.StatusCode)
	}
	if resp, _ := b.do("GET", "/secret/", nil); resp.StatusCode != 403 {
		t.Errorf("without the permission: %d, want 403", resp.StatusCode)
	}
	a.GrantPermission(context.Background(), "ann", "site.see_secret")
	if _, body := b.do("GET", "/secret/", nil); body != "the secret" {
		t.Errorf("with the permission: %q", body)
	}
	// A password change ends the session.
	a.SetPassword(context.Background(), "ann", "new-password")
	if resp, _ := b.do("GET", "/private/page", nil); resp.StatusCode != 302 {
		t.Errorf("after a password change: %d, want a redirect to login", resp.StatusCode)
	}
	// An open redirect in next goes to the default instead.
	tok = b.token("/login/")
	resp, _ = b.do("POST", "/login/", url.Values{"csrfmiddlewaretoken": {tok}, "username": {"ann"}, "password": {"new-password"}, "next": {"https://evil.example/"}})
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "/" {
		t.Errorf("next to another site: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	tok = b.token("/login/")
	if resp, _ := b.do("POST", "/logout/", url.Values{"csrfmiddlewaretoken": {tok}}); resp.StatusCode != 302 {
		t.Errorf("logout: %d", resp.StatusCode)
	}
	if resp, _ := b.do("GET", "/private/page", nil); resp.StatusCode != 302 {
		t.Errorf("after logout: %d", resp.StatusCode)
	}
}

// Wrong passwords through the login view are throttled: 429 with the
// form and its message, even for the right password.
func TestLoginViewThrottles(t *testing.T) {
	a, _ := newAuth(t, cheap)
	a.throttle = Throttle{PerUser: 2, PerAddress: 100, Window: time.Hour}
	a.CreateUser(context.Background(), "ann", "", "ann-password", false, false)
	b := newBrowser(t, site(t, a))
	tok := b.token("/login/")
	for range 2 {
		b.do("POST", "/login/", url.Values{"csrfmiddlewaretoken": {tok}, "username": {"ann"}, "password": {"x"}})
	}
	resp, body := b.do("POST", "/login/", url.Values{"csrfmiddlewaretoken": {tok}, "username": {"ann"}, "password": {"ann-password"}})
	if resp.StatusCode != 429 || !strings.Contains(body, MsgThrottled) {
		t.Errorf("throttled login: %d\n%s", resp.StatusCode, body)
	}
}

// Rotating the secret key with the old one in secret_key_fallbacks keeps
// users logged in; without it, they are logged out.
func TestSessionHashFallbacks(t *testing.T) {
	old, _ := newAuth(t, cheap)
	old.CreateUser(context.Background(), "ann", "", "ann-password", false, false)
	b := newBrowser(t, site(t, old))
	tok := b.token("/login/")
	if resp, _ := b.do("POST", "/login/", url.Values{"csrfmiddlewaretoken": {tok}, "username": {"ann"}, "password": {"ann-password"}}); resp.StatusCode != 302 {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	for _, tt := range []struct {
		fallbacks []string
		want      int
	}{{nil, 302}, {[]string{"k"}, 200}} {
		rotated, err := New(old.db, Options{SecretKey: "new-key", SecretKeyFallbacks: tt.fallbacks, Hasher: &cheap})
		if err != nil {
			t.Fatal(err)
		}
		nb := newBrowser(t, site(t, rotated))
		nb.c.Jar = b.c.Jar
		if resp, body := nb.do("GET", "/private/x", nil); resp.StatusCode != tt.want {
			t.Errorf("fallbacks %q: %d %q, want %d", tt.fallbacks, resp.StatusCode, body, tt.want)
		}
		if tt.want == 302 { // that logout emptied the shared cookie: log in again
			tok := b.token("/login/")
			b.do("POST", "/login/", url.Values{"csrfmiddlewaretoken": {tok}, "username": {"ann"}, "password": {"ann-password"}})
		}
	}
}

// TestThrottleConcurrentGuesses: guesses sent at once (from many
// addresses, to as many workers) must not all pass the check before any
// is counted: no more passwords are tried than the limit allows.
func TestThrottleConcurrentGuesses(t *testing.T) {
	// A hash slow enough that every guess is checked before the first
	// failure could be recorded, as argon2's real cost makes it.
	a, _ := newAuth(t, Hasher{Time: 1, Memory: 8 * 1024, Threads: 1})
	a.throttle = Throttle{PerUser: 3, PerAddress: 5, Window: 10 * time.Minute}
	ctx := context.Background()
	if _, err := a.CreateUser(ctx, "ann", "", "ann-password", false, false); err != nil {
		t.Fatal(err)
	}
	const guesses = 16
	var wg sync.WaitGroup
	errs := make([]error, guesses)
	start := make(chan struct{})
	for i := range guesses {
		wg.Go(func() {
			<-start
			_, errs[i] = a.Authenticate(ctx, "ann", "guess", "10.0.1."+strconv.Itoa(i))
		})
	}
	close(start)
	wg.Wait()
	tried := 0
	for i, err := range errs {
		switch err {
		case ErrInvalidLogin:
			tried++
		case ErrThrottled:
		default:
			t.Errorf("guess %d: %v", i, err)
		}
	}
	t.Logf("%d concurrent guesses: %d checked, %d throttled", guesses, tried, guesses-tried)
	if tried > 3 {
		t.Errorf("%d passwords checked at once, want at most the limit, 3", tried)
	}
	// The right password is refused too now, and the count stays at the limit.
	if _, err := a.Authenticate(ctx, "ann", "ann-password", "10.0.2.1"); err != ErrThrottled {
		t.Errorf("after the concurrent guesses: %v, want ErrThrottled", err)
	}
}

// TestValidatePasswordAsDjango: Django's default validators refuse what
// the first ones let through: a common password, one close to (not only
// equal to) the username, one under 8 characters counted as characters.
func TestValidatePasswordAsDjango(t *testing.T) {
	for _, c := range []struct{ pw, user, want string }{
		{"password", "", "too common"},
		{"Password1", "", "too common"},
		{"iloveyou", "", "too common"},
		{"x4userx4", "x4user", "too similar"},
		{"alice-smith", "alice.smith", "too similar"},
		{"ééééééé", "", "too short"}, // 7 characters in 14 bytes
		{"1234567890", "", "entirely numeric"},
	} {
		err := ValidatePassword(c.pw, c.user)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ValidatePassword(%q, %q) = %v, want %q", c.pw, c.user, err, c.want)
		}
	}
	for _, c := range []struct{ pw, user string }{
		{"a-good-passphrase", "ann"},
		{"Sup3r-s3cret-pw!", "admin"},
		{"éééééééé", ""},
		{"correct horse battery staple", "horse"}, // a short username inside a long password
	} {
		if err := ValidatePassword(c.pw, c.user); err != nil {
			t.Errorf("ValidatePassword(%q, %q) = %v, want nil", c.pw, c.user, err)
		}
	}
}

// TestLogoutEndsTheSessionCookie: the session is a signed cookie, so a
// copy taken before logout (a stolen cookie) still logged in after it, for
// the cookie's whole age. Logout records the session's key as ended.
func TestLogoutEndsTheSessionCookie(t *testing.T) {
	a, _ := newAuth(t, cheap)
	a.CreateUser(context.Background(), "ann", "", "ann-password", false, false)
	h := site(t, a)
	b := newBrowser(t, h)
	if resp, _ := b.do("POST", "/login/", url.Values{"csrfmiddlewaretoken": {b.token("/login/")}, "username": {"ann"}, "password": {"ann-password"}}); resp.StatusCode != 302 {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	stolen := b.session()
	if resp, _ := b.do("POST", "/logout/", url.Values{"csrfmiddlewaretoken": {b.token("/login/")}}); resp.StatusCode != 302 {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	thief := newBrowser(t, h)
	thief.c.Jar.SetCookies(nil, []*http.Cookie{{Name: "sessionid", Value: stolen}})
	if resp, body := thief.do("GET", "/private/", nil); resp.StatusCode != 302 {
		t.Errorf("a session cookie from before the logout, after it: %d %q, want the redirect to log in", resp.StatusCode, body)
	}
	// Logging in again gives a new session that works.
	if resp, _ := b.do("POST", "/login/", url.Values{"csrfmiddlewaretoken": {b.token("/login/")}, "username": {"ann"}, "password": {"ann-password"}}); resp.StatusCode != 302 {
		t.Fatalf("login again: %d", resp.StatusCode)
	}
	if resp, body := b.do("GET", "/private/", nil); resp.StatusCode != 200 || body != "hello ann" {
		t.Errorf("after logging in again: %d %q", resp.StatusCode, body)
	}
}
