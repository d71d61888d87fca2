package polls

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stack-web/stack/framework/auth"
)

func newTestApp(t testing.TB, dbPath string) *App {
	t.Helper()
	s := DefaultSettings()
	s.SecretKey = "test-secret-key-that-is-long-enough-for-django-w009-0123456789"
	s.AllowedHosts = []string{"localhost", "127.0.0.1", "example.com"}
	s.Database = dbPath
	a, err := New(s, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	a.Users.SetHasher(auth.Hasher{Time: 1, Memory: 1024, Threads: 1}) // production's costs ~100 MiB a hash
	return a
}

// client is a browser: a cookie jar on an httptest server.
type client struct {
	t    testing.TB
	base string
	http *http.Client
}

func newClient(t testing.TB, srv *httptest.Server) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: srv.URL, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (c *client) get(path string) (int, string) {
	c.t.Helper()
	resp, err := c.http.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (c *client) post(path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	resp, err := c.http.PostForm(c.base+path, form)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var tokenRE = regexp.MustCompile(`name="csrfmiddlewaretoken" value="([^"]+)"`)

func csrfToken(t testing.TB, page string) string {
	t.Helper()
	m := tokenRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	return m[1]
}

func votesOf(t testing.TB, db *sql.DB, choiceID int64) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT votes FROM choice WHERE id = ?`, choiceID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestIndexListsPublishedQuestionsNewestFirst(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "db.sqlite3"))
	srv := httptest.NewServer(a)
	defer srv.Close()
	c := newClient(t, srv)
	for _, path := range []string{"/", "/polls/"} {
		code, body := c.get(path)
		if code != 200 {
			t.Fatalf("GET %s: %d", path, code)
		}
		want := []string{"What&#39;s new?", "Which tier do you trust", "Tabs or spaces?", "Which protocol is cheapest"}
		last := -1
		for _, w := range want {
			i := strings.Index(body, w)
			if i < 0 || i < last {
				t.Fatalf("GET %s: %q missing or out of order:\n%s", path, w, body)
			}
			last = i
		}
		if strings.Contains(body, "published tomorrow") {
			t.Errorf("GET %s lists a question from the future", path)
		}
		if !strings.Contains(body, `href="/static/polls/style.css"`) || !strings.Contains(body, `href="/polls/1/"`) {
			t.Errorf("GET %s: no stylesheet or detail links", path)
		}
	}

	// Six published questions: only the five latest are listed.
	for _, q := range []string{"Newer", "Newest"} {
		if _, err := a.store.db.Exec(`INSERT INTO question (question_text, pub_date) VALUES (?, ?)`, q, time.Now().Add(-time.Minute).Unix()); err != nil {
			t.Fatal(err)
		}
	}
	_, body := c.get("/polls/")
	if !strings.Contains(body, "Newest") || !strings.Contains(body, "Tabs or spaces?") || strings.Contains(body, "Which protocol is cheapest") {
		t.Errorf("index does not show exactly the five latest:\n%s", body)
	}
}

func TestIndexWithoutQuestions(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "db.sqlite3"))
	a.store.db.Exec(`DELETE FROM question`)
	srv := httptest.NewServer(a)
	defer srv.Close()
	if _, body := newClient(t, srv).get("/polls/"); !strings.Contains(body, "No polls are available.") {
		t.Errorf("empty index:\n%s", body)
	}
}

func TestDetailAndResults404(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "db.sqlite3"))
	srv := httptest.NewServer(a)
	defer srv.Close()
	c := newClient(t, srv)
	var future int64
	a.store.db.QueryRow(`SELECT id FROM question WHERE pub_date > ?`, time.Now().Unix()).Scan(&future)
	for _, path := range []string{"/polls/999/", "/polls/999/results/", fmt.Sprintf("/polls/%d/", future), fmt.Sprintf("/polls/%d/results/", future), "/polls/abc/"} {
		if code, _ := c.get(path); code != 404 {
			t.Errorf("GET %s: %d, want 404", path, code)
		}
	}
	if code, body := c.get("/polls/1/"); code != 200 || !strings.Contains(body, "Just hacking again") || !strings.Contains(body, `action="/polls/1/vote/"`) {
		t.Errorf("detail: %d\n%s", code, body)
	}
	if code, _ := c.get("/polls/1/vote/"); code != 405 {
		t.Errorf("GET vote: %d, want 405", code)
	}
}

func TestVoteRoundTrip(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "db.sqlite3"))
	srv := httptest.NewServer(a)
	defer srv.Close()
	c := newClient(t, srv)

	_, page := c.get("/polls/1/")
	token := csrfToken(t, page)
	before := votesOf(t, a.store.db, 2)

	resp, _ := c.post("/polls/1/vote/", url.Values{"csrfmiddlewaretoken": {token}, "choice": {"2"}})
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/polls/1/results/" {
		t.Fatalf("vote: %d Location %q, want 302 to the results", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := votesOf(t, a.store.db, 2); got != before+1 {
		t.Errorf("votes %d, want %d", got, before+1)
	}
	_, results := c.get("/polls/1/results/")
	if !strings.Contains(results, "Thanks for voting.") || !strings.Contains(results, "1 vote<") {
		t.Errorf("results page lacks the message or the count:\n%s", results)
	}
	if _, again := c.get("/polls/1/results/"); strings.Contains(again, "Thanks for voting.") {
		t.Error("the flash message was shown twice")
	}

	// No choice: the form again, with the tutorial's error.
	resp, body := c.post("/polls/1/vote/", url.Values{"csrfmiddlewaretoken": {token}})
	if resp.StatusCode != 200 || !strings.Contains(body, "You didn&#39;t select a choice.") || !strings.Contains(body, `name="choice"`) {
		t.Errorf("vote without a choice: %d\n%s", resp.StatusCode, body)
	}
	// A choice of another question is no choice.
	resp, body = c.post("/polls/1/vote/", url.Values{"csrfmiddlewaretoken": {token}, "choice": {"4"}})
	if resp.StatusCode != 200 || !strings.Contains(body, "You didn&#39;t select a choice.") {
		t.Errorf("vote for another question's choice: %d", resp.StatusCode)
	}
	if got := votesOf(t, a.store.db, 4); got != 0 {
		t.Errorf("another question's choice got %d votes", got)
	}
	// choice sent twice counts as the last, as Django's request.POST["choice"].
	before1 := votesOf(t, a.store.db, 1)
	if resp, _ := c.post("/polls/1/vote/", url.Values{"csrfmiddlewaretoken": {token}, "choice": {"2", "1"}}); resp.StatusCode != http.StatusFound {
		t.Errorf("vote with choice twice: %d", resp.StatusCode)
	}
	if v1, v2 := votesOf(t, a.store.db, 1), votesOf(t, a.store.db, 2); v1 != before1+1 || v2 != before+1 {
		t.Errorf("choice=2&choice=1: votes of 1 and 2 are %d and %d, want %d and %d", v1, v2, before1+1, before+1)
	}
	// Without the CSRF token: 403, and no vote.
	resp, _ = c.post("/polls/1/vote/", url.Values{"choice": {"2"}})
	if resp.StatusCode != 403 {
		t.Errorf("vote without CSRF token: %d, want 403", resp.StatusCode)
	}
	if got := votesOf(t, a.store.db, 2); got != before+1 {
		t.Errorf("a rejected vote was counted: %d", got)
	}
}

// TestConcurrentVotesAreAllCounted sends 2,000 votes from 50 clients, split
// between two apps on the same database file, as two worker processes
// would be: every vote must be counted.
func TestConcurrentVotesAreAllCounted(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "db.sqlite3")
	apps := []*App{newTestApp(t, dbPath), newTestApp(t, dbPath)}
	var servers []*httptest.Server
	for _, a := range apps {
		srv := httptest.NewServer(a)
		defer srv.Close()
		servers = append(servers, srv)
	}
	const clients, perClient = 50, 40
	before := votesOf(t, apps[0].store.db, 1) + votesOf(t, apps[0].store.db, 2) + votesOf(t, apps[0].store.db, 3)
	deadline := time.Now().Add(2 * time.Minute)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for i := range clients {
		wg.Go(func() {
			c := newClient(t, servers[i%2])
			_, page := c.get("/polls/1/")
			token := csrfToken(t, page)
			for j := range perClient {
				if time.Now().After(deadline) {
					mu.Lock()
					failures = append(failures, "deadline")
					mu.Unlock()
					return
				}
				choice := fmt.Sprint(1 + (i+j)%3)
				resp, err := c.http.PostForm(c.base+"/polls/1/vote/", url.Values{"csrfmiddlewaretoken": {token}, "choice": {choice}})
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusFound {
					mu.Lock()
					failures = append(failures, fmt.Sprint("status ", resp.StatusCode))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d votes failed, e.g. %s", len(failures), failures[0])
	}
	total := votesOf(t, apps[0].store.db, 1) + votesOf(t, apps[0].store.db, 2) + votesOf(t, apps[0].store.db, 3)
	if total-before != clients*perClient {
		t.Errorf("counted %d votes, want %d", total-before, clients*perClient)
	}
}

func TestMigrationIsIdempotent(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "db.sqlite3")
	a := newTestApp(t, dbPath)
	var questions int
	a.store.db.QueryRow(`SELECT count(*) FROM question`).Scan(&questions)
	a.store.db.Exec(`UPDATE choice SET votes = 7 WHERE id = 1`)
	a.Close()

	b := newTestApp(t, dbPath)
	var again, version int
	b.store.db.QueryRow(`SELECT count(*) FROM question`).Scan(&again)
	b.store.db.QueryRow(`PRAGMA user_version`).Scan(&version)
	if again != questions || votesOf(t, b.store.db, 1) != 7 || version != len(migrations) {
		t.Errorf("after a second start: %d questions (was %d), votes %d, version %d", again, questions, votesOf(t, b.store.db, 1), version)
	}
	if questions != len(sample) {
		t.Errorf("seeded %d questions, want %d", questions, len(sample))
	}
}

// Debug is off unless the configuration turns it on (review item 7), as
// Django's global default: polls without settings refuses to start without
// a secret key rather than serve debug pages.
func TestSettingsValidation(t *testing.T) {
	s := DefaultSettings()
	if s.Debug {
		t.Fatal("polls' default settings turn debug on")
	}
	_, err := New(s, t.TempDir(), slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "secret_key is required") {
		t.Errorf("no secret key outside debug: %v", err)
	}
}

func BenchmarkVote(b *testing.B) {
	a := newTestApp(b, filepath.Join(b.TempDir(), "db.sqlite3"))
	w := httptest.NewRecorder()
	a.ServeHTTP(w, httptest.NewRequest("GET", "http://localhost/polls/1/", nil))
	token := csrfToken(b, w.Body.String())
	cookie := w.Result().Cookies()[0]
	body := url.Values{"csrfmiddlewaretoken": {token}, "choice": {"2"}}.Encode()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "http://localhost/polls/1/vote/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(cookie)
		w := httptest.NewRecorder()
		a.ServeHTTP(w, req)
		if w.Code != 302 {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}

// The detail page reads a question and its choices in one query (a LEFT
// JOIN): a question without choices is still found, with no choice, and
// the choices come in id order, each once.
func TestDetailOneQueryWithAndWithoutChoices(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "db.sqlite3"))
	var lonely int64
	if err := a.store.db.QueryRow(`INSERT INTO question (question_text, pub_date) VALUES ('Alone?', ?) RETURNING id`,
		time.Now().Add(-time.Hour).Unix()).Scan(&lonely); err != nil {
		t.Fatal(err)
	}
	q, err := a.store.questionWithChoices(context.Background(), lonely, time.Now())
	if err != nil || q.Text != "Alone?" || len(q.Choices) != 0 || q.PubDate.IsZero() {
		t.Errorf("a question without choices: %+v, %v", q, err)
	}
	q, err = a.store.questionWithChoices(context.Background(), 4, time.Now())
	var texts []string
	for _, c := range q.Choices {
		texts = append(texts, c.Text)
	}
	if err != nil || q.ID != 4 || strings.Join(texts, "|") != "CGI|FastCGI|uwsgi|HTTP" {
		t.Errorf("question 4: %+v, %v", q, err)
	}
	if _, err := a.store.questionWithChoices(context.Background(), 999, time.Now()); !errors.Is(err, errNoQuestion) {
		t.Errorf("no question 999: %v", err)
	}
	srv := httptest.NewServer(a)
	defer srv.Close()
	if code, body := newClient(t, srv).get(fmt.Sprintf("/polls/%d/", lonely)); code != 200 || !strings.Contains(body, "Alone?") || strings.Contains(body, `type="radio"`) {
		t.Errorf("detail of a question without choices: %d\n%s", code, body)
	}
}
