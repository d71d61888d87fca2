package polls

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// adminURLs are every kind of admin page, existing or not.
var adminURLs = []string{
	"/admin/", "/admin/polls/", "/admin/polls/question/", "/admin/polls/question/?q=new&p=1",
	"/admin/polls/question/add/", "/admin/polls/question/1/", "/admin/polls/question/1/change/",
	"/admin/polls/question/1/delete/", "/admin/polls/question/999/change/", "/admin/polls/nothing/", "/admin/nothing/at/all/",
}

// An anonymous client gets a redirect to the login page, with next, from
// every admin URL, whatever the method; a POST without a CSRF token is 403.
func TestAdminAnonymousAndCSRF(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "db.sqlite3"))
	srv := httptest.NewServer(a)
	defer srv.Close()
	c := newClient(t, srv)
	for _, u := range adminURLs {
		resp, err := c.http.Get(srv.URL + u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := "/admin/login/?" + url.Values{"next": {u}}.Encode()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
			t.Errorf("GET %s: %d Location %q, want 302 to %q", u, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
	// A POST with a valid token is still only a redirect for an anonymous client.
	_, login := c.get("/admin/login/")
	tok := csrfToken(t, login)
	resp, _ := c.post("/admin/polls/question/1/delete/", url.Values{"csrfmiddlewaretoken": {tok}, "post": {"yes"}})
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "/admin/login/") {
		t.Errorf("anonymous delete: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if n := count(t, a, `SELECT COUNT(*) FROM question WHERE id = 1`); n != 1 {
		t.Fatal("an anonymous POST deleted a question")
	}
	// Without the token: 403, before the admin even looks.
	for _, u := range []string{"/admin/login/", "/admin/polls/question/add/", "/admin/polls/question/1/delete/", "/admin/logout/"} {
		resp, _ := c.post(u, url.Values{"username": {"x"}, "password": {"y"}, "post": {"yes"}})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s without CSRF: %d, want 403", u, resp.StatusCode)
		}
	}
}

func count(t *testing.T, a *App, q string, args ...any) int {
	t.Helper()
	var n int
	if err := a.store.db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// adminLogin logs c in at /admin/login/.
func adminLogin(t *testing.T, c *client, username, password string) *http.Response {
	t.Helper()
	_, page := c.get("/admin/login/?next=/admin/")
	resp, _ := c.post("/admin/login/", url.Values{"csrfmiddlewaretoken": {csrfToken(t, page)},
		"username": {username}, "password": {password}, "next": {"/admin/"}})
	return resp
}

var rowRE = regexp.MustCompile(`<tr><th><a href="/admin/polls/question/(\d+)/change/">([^<]*)</a></th>`)

// The admin end to end with a Go client: log in, add a question with two
// choices (and an empty extra row), find it by search and filter, change
// it, see its votes, delete it after the confirmation page.
func TestAdminQuestionLifecycle(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "db.sqlite3"))
	ctx := context.Background()
	if err := a.Users.CreateSuperuser(ctx, "admin", "admin@example.com", "admin-password-1"); err != nil {
		t.Fatal(err)
	}
	a.Users.CreateUser(ctx, "visitor", "", "visitor-password", false, false)
	srv := httptest.NewServer(a)
	defer srv.Close()

	// A user who is not staff cannot log in to the admin.
	v := newClient(t, srv)
	if resp := adminLogin(t, v, "visitor", "visitor-password"); resp.StatusCode != 200 {
		t.Errorf("non-staff login: %d, want the form again", resp.StatusCode)
	}

	c := newClient(t, srv)
	if resp := adminLogin(t, c, "admin", "wrong"); resp.StatusCode != 200 {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	if resp := adminLogin(t, c, "admin", "admin-password-1"); resp.StatusCode != 302 || resp.Header.Get("Location") != "/admin/" {
		t.Fatalf("login: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	code, index := c.get("/admin/")
	if code != 200 || !strings.Contains(index, `<a href="/admin/polls/question/">Questions</a>`) || !strings.Contains(index, "Welcome, <strong>admin</strong>") {
		t.Fatalf("index: %d\n%s", code, index)
	}
	code, addPage := c.get("/admin/polls/question/add/")
	for _, want := range []string{`name="question_text"`, `name="pub_date"`, `name="choice_set-TOTAL_FORMS" value="3"`,
		`name="choice_set-INITIAL_FORMS" value="0"`, `name="choice_set-0-choice_text"`, `name="choice_set-2-votes"`} {
		if !strings.Contains(addPage, want) {
			t.Errorf("the add page lacks %s", want)
		}
	}
	tok := csrfToken(t, addPage)
	form := url.Values{"csrfmiddlewaretoken": {tok}, "question_text": {""}, "pub_date": {"not a date"},
		"choice_set-TOTAL_FORMS": {"3"}, "choice_set-INITIAL_FORMS": {"0"},
		"choice_set-0-choice_text": {"Yes"}, "choice_set-0-votes": {"0"},
		"choice_set-1-choice_text": {"No"}, "choice_set-1-votes": {"-1"},
		"choice_set-2-choice_text": {""}, "choice_set-2-votes": {"0"}, "_save": {"Save"}}
	resp, body := c.post("/admin/polls/question/add/", form)
	if resp.StatusCode != 200 || !strings.Contains(body, "Please correct the errors below.") ||
		!strings.Contains(body, "This field is required.") || !strings.Contains(body, "Enter a valid date/time.") ||
		!strings.Contains(body, "Ensure this value is greater than or equal to 0.") || !strings.Contains(body, `value="Yes"`) {
		t.Fatalf("invalid add: %d\n%s", resp.StatusCode, body)
	}
	// An hour ago, but today: the Today filter below must find it, also
	// when the test runs just after midnight.
	now := time.Now()
	whenT := now.Add(-time.Hour)
	if midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.Local); whenT.Before(midnight) {
		whenT = midnight
	}
	when := whenT.Format("2006-01-02T15:04:05")
	form.Set("question_text", "Admin or shell?")
	form.Set("pub_date", when)
	form.Set("choice_set-1-votes", "0")
	resp, _ = c.post("/admin/polls/question/add/", form)
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "/admin/polls/question/" {
		t.Fatalf("add: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, list := c.get("/admin/polls/question/")
	if !strings.Contains(list, "The question “Admin or shell?” was added successfully.") {
		t.Errorf("no success message:\n%s", list)
	}
	// Newest first (after the sample question dated tomorrow).
	rows := rowRE.FindAllStringSubmatch(list, -1)
	if len(rows) != 6 || rows[1][2] != "Admin or shell?" {
		t.Fatalf("the list is not by date, newest first: %v\n%s", rows, list)
	}
	id := rows[1][1]
	if n := count(t, a, `SELECT COUNT(*) FROM choice WHERE question_id = ?`, id); n != 2 {
		t.Errorf("%d choices saved, want 2 (the empty extra row is skipped)", n)
	}
	// It is on the site, and votes show in the admin list.
	if _, polls := c.get("/polls/"); !strings.Contains(polls, "Admin or shell?") {
		t.Error("the new question is not on /polls/")
	}
	_, detail := c.get("/polls/" + id + "/")
	var choice string
	if m := regexp.MustCompile(`value="(\d+)">\s*<span>Yes</span>`).FindStringSubmatch(detail); m != nil {
		choice = m[1]
	}
	if resp, _ := c.post("/polls/"+id+"/vote/", url.Values{"csrfmiddlewaretoken": {csrfToken(t, detail)}, "choice": {choice}}); resp.StatusCode != 302 {
		t.Fatalf("vote: %d", resp.StatusCode)
	}
	_, list = c.get("/admin/polls/question/?q=shell")
	if !strings.Contains(list, "1 result (<a") || !regexp.MustCompile(`Admin or shell\?</a></th><td>[^<]+</td><td class="yes">yes</td><td>1</td>`).MatchString(list) {
		t.Errorf("search, or the row's recent flag and vote count:\n%s", list)
	}
	if _, none := c.get("/admin/polls/question/?q=nothing+matches"); !strings.Contains(none, "No questions match.") {
		t.Error("an empty search")
	}
	today := time.Now().Format("2006-01-02")
	tomorrow := time.Now().AddDate(0, 0, 1).Format("2006-01-02")
	_, filtered := c.get("/admin/polls/question/?pub_date__gte=" + today + "&pub_date__lt=" + tomorrow)
	if !strings.Contains(filtered, "Admin or shell?") || strings.Contains(filtered, "Tabs or spaces?") || !strings.Contains(filtered, `<li class="selected"><a href="?pub_date__gte=`) {
		t.Errorf("the Today filter:\n%s", filtered)
	}
	// Change: rename, drop a choice, add one.
	_, change := c.get("/admin/polls/question/" + id + "/change/")
	ids := regexp.MustCompile(`name="choice_set-(\d)-id" value="(\d+)"`).FindAllStringSubmatch(change, -1)
	if len(ids) != 2 || !strings.Contains(change, `name="choice_set-INITIAL_FORMS" value="2"`) {
		t.Fatalf("change page: %v\n%s", ids, change)
	}
	cf := url.Values{"csrfmiddlewaretoken": {csrfToken(t, change)}, "question_text": {"Admin, or the shell?"}, "pub_date": {when},
		"choice_set-TOTAL_FORMS": {"5"}, "choice_set-INITIAL_FORMS": {"2"},
		"choice_set-0-id": {ids[0][2]}, "choice_set-0-choice_text": {"Yes"}, "choice_set-0-votes": {"1"},
		"choice_set-1-id": {ids[1][2]}, "choice_set-1-choice_text": {"No"}, "choice_set-1-votes": {"0"}, "choice_set-1-DELETE": {"on"},
		"choice_set-2-choice_text": {"Both"}, "choice_set-2-votes": {"0"}, "_continue": {"1"}}
	resp, _ = c.post("/admin/polls/question/"+id+"/change/", cf)
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "/admin/polls/question/"+id+"/change/" {
		t.Fatalf("change: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if n := count(t, a, `SELECT COUNT(*) FROM choice WHERE question_id = ? AND choice_text IN ('Yes', 'Both')`, id); n != 2 ||
		count(t, a, `SELECT COUNT(*) FROM choice WHERE question_id = ?`, id) != 2 {
		t.Error("the inline rows were not changed as asked")
	}
	// A forged inline id (another question's choice) is refused, as
	// Django's formset refuses it: an error on its row, nothing written.
	cf.Set("choice_set-INITIAL_FORMS", "2")
	cf.Set("choice_set-0-id", "1")
	if resp, body := c.post("/admin/polls/question/"+id+"/change/", cf); resp.StatusCode != 200 || !strings.Contains(body, "That choice is not one of the available choices.") {
		t.Errorf("a forged inline id: %d, want 200 with the error on its row", resp.StatusCode)
	}
	if n := count(t, a, `SELECT COUNT(*) FROM choice WHERE id = 1 AND question_id = 1 AND choice_text = 'Not much'`); n != 1 {
		t.Error("a forged inline id changed another question's choice")
	}
	// Delete: a confirmation page, then the POST.
	code, confirm := c.get("/admin/polls/question/" + id + "/delete/")
	if code != 200 || !strings.Contains(confirm, "Are you sure you want to delete the question “Admin, or the shell?”") || !strings.Contains(confirm, "Choice: Both") {
		t.Fatalf("confirmation: %d\n%s", code, confirm)
	}
	if n := count(t, a, `SELECT COUNT(*) FROM question WHERE id = ?`, id); n != 1 {
		t.Fatal("the GET deleted")
	}
	resp, _ = c.post("/admin/polls/question/"+id+"/delete/", url.Values{"csrfmiddlewaretoken": {csrfToken(t, confirm)}, "post": {"yes"}})
	if resp.StatusCode != 302 || count(t, a, `SELECT COUNT(*) FROM question WHERE id = ?`, id) != 0 || count(t, a, `SELECT COUNT(*) FROM choice WHERE question_id = ?`, id) != 0 {
		t.Errorf("delete: %d", resp.StatusCode)
	}
	// Log out (a POST), and the admin is closed again.
	_, home := c.get("/admin/")
	if resp, body := c.post("/admin/logout/", url.Values{"csrfmiddlewaretoken": {csrfToken(t, home)}}); resp.StatusCode != 200 || !strings.Contains(body, "Thanks for spending some quality time") {
		t.Errorf("logout: %d", resp.StatusCode)
	}
	if code, _ := c.get("/admin/"); code != 302 {
		t.Errorf("after logout: %d", code)
	}
}

// TestVotesCannotOverflow: a choice given the largest count the admin
// took (2^63-1) and then voted for made SQLite store the sum as a REAL,
// and every page of the question answered 500 from then on. The admin
// keeps votes in Django's portable IntegerField range, and a vote never
// overflows a count put there some other way.
func TestVotesCannotOverflow(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "db.sqlite3"))
	if err := a.Users.CreateSuperuser(context.Background(), "admin", "", "admin-password-1"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	defer srv.Close()
	c := newClient(t, srv)
	if resp := adminLogin(t, c, "admin", "admin-password-1"); resp.StatusCode != 302 {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	_, page := c.get("/admin/polls/question/add/")
	resp, body := c.post("/admin/polls/question/add/", url.Values{"csrfmiddlewaretoken": {csrfToken(t, page)},
		"question_text": {"Big?"}, "pub_date": {"2026-01-01T00:00"},
		"choice_set-TOTAL_FORMS": {"3"}, "choice_set-INITIAL_FORMS": {"0"},
		"choice_set-0-choice_text": {"Max"}, "choice_set-0-votes": {"9223372036854775807"}})
	if resp.StatusCode != 200 || !strings.Contains(body, "Ensure this value is less than or equal to 2147483647.") {
		t.Errorf("votes of 2^63-1 in the admin: %d, want the form again with the range error", resp.StatusCode)
	}

	const max = "9223372036854775807"
	if _, err := a.store.db.Exec(`UPDATE choice SET votes = ` + max + ` WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	v := newClient(t, srv)
	_, page = v.get("/polls/1/")
	v.post("/polls/1/vote/", url.Values{"csrfmiddlewaretoken": {csrfToken(t, page)}, "choice": {"2"}})
	for _, p := range []string{"/polls/1/", "/polls/1/results/"} {
		if code, _ := v.get(p); code != 200 {
			t.Errorf("GET %s after a vote for a choice at 2^63-1: %d, want 200", p, code)
		}
	}
	var typ string
	a.store.db.QueryRow(`SELECT typeof(votes) FROM choice WHERE id = 2`).Scan(&typ)
	if typ != "integer" {
		t.Errorf("votes stored as %s, want integer", typ)
	}
}

// TestAdminConcurrentInlineEdits: two staff users on one question's change
// page. A choice added by one meanwhile is left alone by the other's save
// (it answered 400 "tampered with", and the edit was lost); a choice
// deleted by one meanwhile is an error on its row in the other's page.
func TestAdminConcurrentInlineEdits(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "db.sqlite3"))
	if err := a.Users.CreateSuperuser(context.Background(), "admin", "", "admin-password-1"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	defer srv.Close()
	c1, c2 := newClient(t, srv), newClient(t, srv)
	for _, c := range []*client{c1, c2} {
		if resp := adminLogin(t, c, "admin", "admin-password-1"); resp.StatusCode != 302 {
			t.Fatalf("login: %d", resp.StatusCode)
		}
	}
	idRE := regexp.MustCompile(`name="choice_set-(\d)-id" value="(\d+)"`)
	form := func(page, text string, ids [][]string) url.Values {
		f := url.Values{"csrfmiddlewaretoken": {csrfToken(t, page)}, "question_text": {text}, "pub_date": {"2026-01-01T00:00"},
			"choice_set-TOTAL_FORMS": {strconv.Itoa(len(ids) + 3)}, "choice_set-INITIAL_FORMS": {strconv.Itoa(len(ids))}}
		for _, m := range ids {
			f.Set("choice_set-"+m[1]+"-id", m[2])
			f.Set("choice_set-"+m[1]+"-choice_text", "choice "+m[2])
			f.Set("choice_set-"+m[1]+"-votes", "0")
		}
		return f
	}
	_, page1 := c1.get("/admin/polls/question/1/change/")
	_, page2 := c2.get("/admin/polls/question/1/change/")
	ids := idRE.FindAllStringSubmatch(page1, -1)
	if len(ids) < 2 {
		t.Fatalf("question 1 has %d choices", len(ids))
	}
	f2 := form(page2, "What's new?", ids)
	f2.Set("choice_set-"+strconv.Itoa(len(ids))+"-choice_text", "Added meanwhile")
	f2.Set("choice_set-"+strconv.Itoa(len(ids))+"-votes", "0")
	if resp, _ := c2.post("/admin/polls/question/1/change/", f2); resp.StatusCode != 302 {
		t.Fatalf("the first save: %d", resp.StatusCode)
	}
	if resp, _ := c1.post("/admin/polls/question/1/change/", form(page1, "Edited meanwhile", ids)); resp.StatusCode != 302 {
		t.Errorf("a save after another user added a choice: %d, want 302", resp.StatusCode)
	}
	if count(t, a, `SELECT COUNT(*) FROM question WHERE id = 1 AND question_text = 'Edited meanwhile'`) != 1 ||
		count(t, a, `SELECT COUNT(*) FROM choice WHERE question_id = 1 AND choice_text = 'Added meanwhile'`) != 1 {
		t.Error("the second save was lost, or it removed the choice added meanwhile")
	}

	// One user deletes a choice; the other, whose page still has it, saves.
	_, page1 = c1.get("/admin/polls/question/1/change/")
	_, page2 = c2.get("/admin/polls/question/1/change/")
	ids = idRE.FindAllStringSubmatch(page1, -1)
	f2 = form(page2, "Edited meanwhile", ids)
	f2.Set("choice_set-0-DELETE", "on")
	if resp, _ := c2.post("/admin/polls/question/1/change/", f2); resp.StatusCode != 302 {
		t.Fatalf("the delete: %d", resp.StatusCode)
	}
	resp, body := c1.post("/admin/polls/question/1/change/", form(page1, "Too late", ids))
	if resp.StatusCode != 200 || !strings.Contains(body, "That choice is not one of the available choices.") {
		t.Errorf("a save with a choice deleted meanwhile: %d, want 200 with the error on its row", resp.StatusCode)
	}
	if count(t, a, `SELECT COUNT(*) FROM choice WHERE id = ?`, ids[0][2]) != 0 || count(t, a, `SELECT COUNT(*) FROM question WHERE question_text = 'Too late'`) != 0 {
		t.Error("the refused save wrote something")
	}
}
