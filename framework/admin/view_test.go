package admin

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stack-web/stack/framework/auth"
	"github.com/stack-web/stack/framework/forms"
)

// viewFixture is an admin over shelves and their books (an inline), with
// "viewer" (may view both), "glancer" (may view shelves only), "editor"
// (may change and delete shelves, view books), "curator" (may change
// shelves and books) and "root".
func viewFixture(t *testing.T) (*sql.DB, func(user string) *client) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "v.db")+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, q := range []string{
		`CREATE TABLE shelf (id INTEGER PRIMARY KEY, label VARCHAR(50) NOT NULL, kind TEXT NOT NULL, open INTEGER NOT NULL, note TEXT)`,
		`CREATE TABLE book (id INTEGER PRIMARY KEY, shelf_id INTEGER NOT NULL REFERENCES shelf(id), title TEXT NOT NULL)`,
		`INSERT INTO shelf (label, kind, open, note) VALUES ('Poetry <b>', 'p', 1, NULL)`,
		`INSERT INTO book (shelf_id, title) VALUES (1, 'Odes'), (1, 'Sonnets')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	users, err := auth.New(db, auth.Options{Hasher: &auth.Hasher{Time: 1, Memory: 1024, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	users.CreateSuperuser(ctx, "root", "", "root-password")
	for _, u := range []string{"viewer", "glancer"} {
		users.CreateUser(ctx, u, "", u+"-password", true, false)
		users.GrantPermission(ctx, u, "lib.view_shelf")
	}
	users.GrantPermission(ctx, "viewer", "lib.view_book")
	// "editor" may change and delete shelves but only view their books.
	users.CreateUser(ctx, "editor", "", "editor-password", true, false)
	for _, p := range []string{"lib.change_shelf", "lib.delete_shelf", "lib.view_book"} {
		users.GrantPermission(ctx, "editor", p)
	}
	// "curator" may change shelves and books, not add or delete books.
	users.CreateUser(ctx, "curator", "", "curator-password", true, false)
	users.GrantPermission(ctx, "curator", "lib.change_shelf")
	users.GrantPermission(ctx, "curator", "lib.change_book")
	site := New(db, users, Options{})
	err = site.Register(ctx, &Model{App: "lib", Name: "shelf", Str: "label",
		Fields:  []forms.Field{{Name: "kind", Kind: forms.Choice, Choices: []forms.Option{{Value: "p", Label: "Paper"}, {Value: "e", Label: "Ebook"}}}, {Name: "open", Kind: forms.Bool}},
		Inlines: []Inline{{Model: &Model{Name: "book", Str: "title"}, FK: "shelf_id"}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := serveSite(t, site)
	return db, func(user string) *client { return login(t, srv, user, user+"-password") }
}

// A staff user with the view permission but not change gets the change
// page read-only, as Django's (since 2.1): the values as text, the inline
// rows as a table, no inputs and no Save buttons; a POST is refused 403
// and changes nothing. They got 403 on the page itself.
func TestViewOnlyStaffSeeTheChangePageReadOnly(t *testing.T) {
	db, as := viewFixture(t)
	viewer := as("viewer")
	code, page := viewer.get("/admin/lib/shelf/1/change/")
	if code != 200 {
		t.Fatalf("view-only change page: %d, want 200\n%s", code, page)
	}
	for _, want := range []string{
		"<title>View shelf", `<div class="readonly">Poetry &lt;b&gt;</div>`, `<div class="readonly">Paper</div>`,
		`<div class="readonly">yes</div>`, `<div class="readonly">-</div>`, // open, a NULL note
		"<td><p>Odes</p></td>", "<td><p>Sonnets</p></td>", `class="closelink"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the read-only page lacks %s", want)
		}
	}
	_, content, _ := strings.Cut(page, `<div id="content">`) // past the header's logout form and the styles
	for _, not := range []string{"<input", `type="submit"`, "_save", "TOTAL_FORMS", "deletelink", "<form"} {
		if strings.Contains(content, not) {
			t.Errorf("the read-only page has %s", not)
		}
	}
	if _, list := viewer.get("/admin/lib/shelf/"); !strings.Contains(list, "Select shelf to view") {
		t.Error("the list of a view-only user is not titled 'Select shelf to view', as Django's")
	}
	// A POST (a forged form, with the right CSRF token) changes nothing.
	_, listPage := viewer.get("/admin/lib/shelf/")
	resp, _ := viewer.post("/admin/lib/shelf/1/change/", url.Values{"csrfmiddlewaretoken": {token(t, listPage)},
		"label": {"Hacked"}, "kind": {"e"}, "book_set-TOTAL_FORMS": {"0"}, "book_set-INITIAL_FORMS": {"0"}, "_save": {"Save"}})
	if resp.StatusCode != 403 {
		t.Errorf("POST by a view-only user: %d, want 403", resp.StatusCode)
	}
	var label string
	db.QueryRow(`SELECT label FROM shelf WHERE id = 1`).Scan(&label)
	if label != "Poetry <b>" {
		t.Errorf("a view-only user's POST changed the label to %q", label)
	}
	// An inline its user may not view is left out, as Django's.
	if code, page := as("glancer").get("/admin/lib/shelf/1/change/"); code != 200 || strings.Contains(page, "Odes") || !strings.Contains(page, "Poetry") {
		t.Errorf("glancer (no view_book): %d, the books shown: %v", code, strings.Contains(page, "Odes"))
	}
	// Whoever may change still gets the form.
	if code, page := as("root").get("/admin/lib/shelf/1/change/"); code != 200 || !strings.Contains(page, `name="_save"`) || strings.Contains(page, `class="readonly"`) {
		t.Errorf("root's change page: %d", code)
	}
	if code, _ := viewer.get("/admin/lib/shelf/add/"); code != 403 {
		t.Errorf("add page of a view-only user: %d, want 403", code)
	}
}
