package admin

import (
	"net/url"
	"strings"
	"testing"
)

// An inline is edited only as far as its own model's permissions allow,
// as Django's InlineModelAdmin: "editor" may change shelves but only view
// books, so the shelf's page shows the books read-only and a forged POST
// of the inline (a book renamed, one deleted, one added) changes no book,
// while the shelf itself is saved; one who may change books but not add
// or delete them renames a book and no more; deleting the shelf, which
// would delete its books, is refused. Whoever could change the parent
// wrote its inline rows, and deleting it took the rows along.
func TestInlineFollowsItsModelsPermissions(t *testing.T) {
	db, as := viewFixture(t)
	editor := as("editor")
	code, page := editor.get("/admin/lib/shelf/1/change/")
	if code != 200 || !strings.Contains(page, `name="_save"`) {
		t.Fatalf("editor's change page: %d", code)
	}
	if strings.Contains(page, "book_set-TOTAL_FORMS") || !strings.Contains(page, "<td><p>Odes</p></td>") {
		t.Error("the books are not shown read-only to a user who may only view them")
	}
	resp, body := editor.post("/admin/lib/shelf/1/change/", url.Values{
		"csrfmiddlewaretoken": {token(t, page)}, "label": {"Verse"}, "kind": {"p"}, "open": {"on"},
		"book_set-TOTAL_FORMS": {"3"}, "book_set-INITIAL_FORMS": {"2"},
		"book_set-0-id": {"1"}, "book_set-0-title": {"Hacked"},
		"book_set-1-id": {"2"}, "book_set-1-title": {"Sonnets"}, "book_set-1-DELETE": {"on"},
		"book_set-2-title": {"Planted"}, "_save": {"Save"}})
	if resp.StatusCode != 302 {
		t.Fatalf("editor's POST: %d, want 302\n%s", resp.StatusCode, body)
	}
	var label, books string
	db.QueryRow(`SELECT label FROM shelf WHERE id = 1`).Scan(&label)
	db.QueryRow(`SELECT group_concat(title, ',') FROM (SELECT title FROM book ORDER BY id)`).Scan(&books)
	if label != "Verse" {
		t.Errorf("the shelf's label is %q, want Verse (editor may change shelves)", label)
	}
	if books != "Odes,Sonnets" {
		t.Errorf("the books are %q, want Odes,Sonnets: a user who may only view books changed them", books)
	}
	// curator may change books, neither add nor delete them: the rename
	// is saved, the deletion and the new row are not, and the page has
	// no Delete box and no empty row.
	curator := as("curator")
	_, page = curator.get("/admin/lib/shelf/1/change/")
	if strings.Contains(page, "book_set-0-DELETE") || strings.Contains(page, "book_set-2-title") || !strings.Contains(page, "book_set-0-title") {
		t.Error("curator's page offers a Delete box or an empty row, or no book to edit")
	}
	resp, body = curator.post("/admin/lib/shelf/1/change/", url.Values{
		"csrfmiddlewaretoken": {token(t, page)}, "label": {"Verse"}, "kind": {"p"}, "open": {"on"},
		"book_set-TOTAL_FORMS": {"3"}, "book_set-INITIAL_FORMS": {"2"},
		"book_set-0-id": {"1"}, "book_set-0-title": {"Odes II"},
		"book_set-1-id": {"2"}, "book_set-1-title": {"Sonnets"}, "book_set-1-DELETE": {"on"},
		"book_set-2-title": {"Planted"}, "_save": {"Save"}})
	db.QueryRow(`SELECT group_concat(title, ',') FROM (SELECT title FROM book ORDER BY id)`).Scan(&books)
	if resp.StatusCode != 302 || books != "Odes II,Sonnets" {
		t.Errorf("curator's POST: %d, the books %q, want 302 and Odes II,Sonnets\n%s", resp.StatusCode, books, body)
	}
	if _, page = as("root").get("/admin/lib/shelf/1/change/"); !strings.Contains(page, "book_set-0-DELETE") {
		t.Error("root has no Delete box")
	}

	_, list := editor.get("/admin/lib/shelf/")
	resp, _ = editor.post("/admin/lib/shelf/1/delete/", url.Values{"csrfmiddlewaretoken": {token(t, list)}, "post": {"yes"}})
	if resp.StatusCode != 403 {
		t.Errorf("deleting a shelf whose books editor may not delete: %d, want 403", resp.StatusCode)
	}
	var n int
	db.QueryRow(`SELECT COUNT(*) FROM book`).Scan(&n)
	if n != 2 {
		t.Errorf("%d books left, want 2", n)
	}
}
