package admin

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/stack-web/stack/framework"
	"github.com/stack-web/stack/framework/auth"
	"github.com/stack-web/stack/framework/forms"
)

// fixture is a framework app with an admin over a table of 25 items, a
// superuser "root" and a staff user "clerk" who may only view items.
func fixture(t *testing.T) (*httptest.Server, *sql.DB) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "a.db")+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE item (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL, colour TEXT NOT NULL, size INTEGER NOT NULL, secret TEXT)`); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 25; i++ {
		db.Exec(`INSERT INTO item (name, colour, size, secret) VALUES (?, ?, ?, 'x')`, fmt.Sprintf("item %02d", i), []string{"red", "blue"}[i%2], i)
	}
	users, err := auth.New(db, auth.Options{Hasher: &auth.Hasher{Time: 1, Memory: 1024, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	users.CreateSuperuser(ctx, "root", "", "root-password")
	users.CreateUser(ctx, "clerk", "", "clerk-password", true, false)
	users.GrantPermission(ctx, "clerk", "shop.view_item")
	site := New(db, users, Options{Title: "Shop admin"})
	err = site.Register(ctx, &Model{App: "shop", Name: "item", Str: "name", Exclude: []string{"secret"},
		Fields:      []forms.Field{{Name: "name", Kind: forms.Char, Required: true, MaxLength: 50}, {Name: "size", Kind: forms.Int, Required: true, Min: forms.Limit(1)}},
		ListDisplay: []string{"name", "colour", "size"}, SearchFields: []string{"name"}, ListFilter: []string{"colour"},
		Ordering: "id", PerPage: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := site.Register(ctx, &Model{App: "shop", Name: "item"}); err == nil {
		t.Error("a model registered twice")
	}
	if err := site.Register(ctx, &Model{App: "shop", Name: "ghost"}); err == nil {
		t.Error("a model without a table registered")
	}
	return serveSite(t, site), db
}

// serveSite serves site in a framework app on a loopback port.
func serveSite(t *testing.T, site *Site) *httptest.Server {
	t.Helper()
	app, err := framework.New(framework.Settings{SecretKey: strings.Repeat("admin-test-", 5), AllowedHosts: []string{"*"}},
		framework.Config{URLs: []framework.Pattern{site.Pattern()}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	return srv
}

type client struct {
	t   *testing.T
	c   *http.Client
	url string
}

func login(t *testing.T, srv *httptest.Server, username, password string) *client {
	jar, _ := cookiejar.New(nil)
	c := &client{t: t, url: srv.URL, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	_, page := c.get("/admin/login/")
	resp, _ := c.post("/admin/login/", url.Values{"csrfmiddlewaretoken": {token(t, page)}, "username": {username}, "password": {password}})
	if resp.StatusCode != 302 {
		t.Fatalf("login as %s: %d", username, resp.StatusCode)
	}
	return c
}

var tokenRE = regexp.MustCompile(`name="csrfmiddlewaretoken" value="([^"]+)"`)

func token(t *testing.T, page string) string {
	m := tokenRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token:\n%s", page)
	}
	return m[1]
}

func (c *client) get(path string) (int, string) {
	resp, err := c.c.Get(c.url + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (c *client) post(path string, form url.Values) (*http.Response, string) {
	resp, err := c.c.PostForm(c.url+path, form)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var nameRE = regexp.MustCompile(`<th><a href="/admin/shop/item/\d+/change/">(item \d+)</a></th>`)

func names(page string) string {
	var out []string
	for _, m := range nameRE.FindAllStringSubmatch(page, -1) {
		out = append(out, m[1][5:])
	}
	return strings.Join(out, ",")
}

func TestChangeListPagesSearchFilter(t *testing.T) {
	srv, _ := fixture(t)
	c := login(t, srv, "root", "root-password")
	for _, tt := range []struct {
		query string
		want  string
		count string
	}{
		{"", "01,02,03,04,05,06,07,08,09,10", "25 items"},
		{"?p=3", "21,22,23,24,25", "25 items"},
		{"?q=item+1", "01,10,11,12,13,14,15,16,17,18", "12 items"}, // every word, anywhere
		{"?q=item+1&p=2", "19,21", "12 items"},
		{"?colour__exact=red", "02,04,06,08,10,12,14,16,18,20", "12 items"},
		{"?colour__exact=red&q=2", "02,12,20,22,24", "5 items"},
		{"?colour__exact=blue&colour__exact=red", "02,04,06,08,10,12,14,16,18,20", "12 items"}, // the last, as Django
		{"?q=%25", "", "0 items"},                                                              // LIKE's wildcard is matched literally
		{"?q=it_m", "", "0 items"},                                                             // and so is _
	} {
		code, page := c.get("/admin/shop/item/" + tt.query)
		if code != 200 || names(page) != tt.want || !strings.Contains(page, tt.count+"</p>") {
			t.Errorf("%s: %d rows %q, want %q and %q", tt.query, code, names(page), tt.want, tt.count)
		}
	}
	// A page past the end goes back to the first.
	resp, _ := c.c.Get(srv.URL + "/admin/shop/item/?p=9")
	resp.Body.Close()
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "/admin/shop/item/" {
		t.Errorf("p=9: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The form has the columns (from the table) but not the excluded one.
	_, add := c.get("/admin/shop/item/add/")
	if !strings.Contains(add, `name="colour"`) || !strings.Contains(add, `name="size" id="id_size" value="" required min="1"`) || strings.Contains(add, `name="secret"`) {
		t.Errorf("the add form:\n%s", add)
	}
	resp, _ = c.c.Get(srv.URL + "/admin/shop/item?q=5")
	resp.Body.Close()
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "/admin/shop/item/?q=5" {
		t.Errorf("no trailing slash: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if code, _ := c.get("/admin/shop/nothing/"); code != 404 {
		t.Errorf("an unknown model: %d", code)
	}
}

// A staff user gets what their permissions allow: view, not add or delete.
func TestStaffPermissions(t *testing.T) {
	srv, db := fixture(t)
	c := login(t, srv, "clerk", "clerk-password")
	if code, page := c.get("/admin/"); code != 200 || !strings.Contains(page, "Items") || strings.Contains(page, `class="addlink"`) {
		t.Errorf("index: %d", code)
	}
	if code, page := c.get("/admin/shop/item/"); code != 200 || strings.Contains(page, "Add item") {
		t.Errorf("list: %d", code)
	}
	for _, u := range []string{"/admin/shop/item/add/", "/admin/shop/item/1/delete/"} { // change/ is read-only: view_test.go
		if code, _ := c.get(u); code != 403 {
			t.Errorf("GET %s: %d, want 403", u, code)
		}
	}
	_, page := c.get("/admin/shop/item/")
	if resp, _ := c.post("/admin/shop/item/1/delete/", url.Values{"csrfmiddlewaretoken": {token(t, page)}, "post": {"yes"}}); resp.StatusCode != 403 {
		t.Errorf("delete: %d", resp.StatusCode)
	}
	var n int
	db.QueryRow(`SELECT COUNT(*) FROM item`).Scan(&n)
	if n != 25 {
		t.Errorf("%d items left", n)
	}
}
