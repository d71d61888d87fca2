package polls

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// breakReads makes every read of a's store that is not served by the
// cache fail: database/sql's statements are closed and the SQLite pool
// has none to give.
func breakReads(t *testing.T, a *App) {
	t.Helper()
	a.store.latest.Close()
	a.store.question.Close()
	a.store.sqlite.close()
}

// Reads in the same second and state are served by the cache; a commit by
// another process (another App's connection on the same file) or the next
// second sends the next read to the database.
func TestReadCacheServesUntilACommitOrTheNextSecond(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite3")
	a, b := newTestApp(t, path), newTestApp(t, path)
	ctx := context.Background()
	now := time.Now()
	q, err := a.store.questionWithChoices(ctx, 1, now)
	if err != nil {
		t.Fatal(err)
	}
	qs, err := a.store.latestQuestions(ctx, 5, now)
	if err != nil || len(qs) != 4 {
		t.Fatal(qs, err)
	}
	breakReads(t, a)
	for range 3 {
		q2, err := a.store.questionWithChoices(ctx, 1, now)
		if err != nil || q2.Text != q.Text || len(q2.Choices) != 3 {
			t.Fatalf("question 1 again in the same second: %+v, %v", q2, err)
		}
		if qs2, err := a.store.latestQuestions(ctx, 5, now); err != nil || len(qs2) != 4 {
			t.Fatalf("the index again in the same second: %+v, %v", qs2, err)
		}
	}
	// A page of another second, or of a question not read yet, queries.
	if _, err := a.store.latestQuestions(ctx, 5, now.Add(time.Second)); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("the index of the next second came from the cache: %v", err)
	}
	if _, err := a.store.questionWithChoices(ctx, 2, now); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("question 2, never read, came from the cache: %v", err)
	}
	// A vote by another process: the next read queries.
	if err := b.store.vote(ctx, 1, q.Choices[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.questionWithChoices(ctx, 1, now); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("question 1 after another process's vote came from the cache: %v", err)
	}
	if _, err := a.store.latestQuestions(ctx, 5, now); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("the index after another process's vote came from the cache: %v", err)
	}
}

// A question becomes visible when its second comes, through the cache.
func TestReadCacheFuturePublication(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "db.sqlite3"))
	ctx := context.Background()
	now := time.Unix(time.Now().Unix(), 0)
	var id int64
	if err := a.store.db.QueryRow(`INSERT INTO question (question_text, pub_date) VALUES ('Soon?', ?) RETURNING id`, now.Unix()+1).Scan(&id); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if qs, err := a.store.latestQuestions(ctx, 5, now); err != nil || len(qs) != 4 || qs[0].Text == "Soon?" {
			t.Fatalf("before its second: %+v, %v", qs, err)
		}
		if _, err := a.store.questionWithChoices(ctx, id, now); err != errNoQuestion {
			t.Fatalf("question %d before its second: %v", id, err)
		}
	}
	later := now.Add(time.Second)
	if qs, err := a.store.latestQuestions(ctx, 5, later); err != nil || len(qs) != 5 || qs[0].Text != "Soon?" {
		t.Errorf("in its second: %+v, %v", qs, err)
	}
	if q, err := a.store.questionWithChoices(ctx, id, later); err != nil || q.Text != "Soon?" {
		t.Errorf("question %d in its second: %+v, %v", id, q, err)
	}
}

// What a view does to a question it got (the vote form marks a choice
// Selected) does not reach the next request's copy.
func TestReadCacheCopiesOut(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "db.sqlite3"))
	ctx := context.Background()
	now := time.Now()
	for range 2 {
		q, err := a.store.questionWithChoices(ctx, 1, now)
		if err != nil || len(q.Choices) != 3 {
			t.Fatal(q, err)
		}
		for _, c := range q.Choices {
			if c.Selected {
				t.Fatalf("a choice came Selected: %+v", q.Choices)
			}
		}
		q.Choices[0].Selected = true
		q.Choices[1].Text = "changed"
		qs, err := a.store.latestQuestions(ctx, 5, now)
		if err != nil || qs[0].Text == "changed" {
			t.Fatal(qs, err)
		}
		qs[0].Text = "changed"
	}
	if q, _ := a.store.questionWithChoices(ctx, 1, now); q.Choices[1].Text == "changed" {
		t.Errorf("a change to a served question was kept: %+v", q.Choices)
	}
}

// A -shm file cut short under the mapping (SQLite does so only when no
// connection has it open) makes header fail, not the process.
func TestReadCacheTruncatedShm(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "db.sqlite3")
	newTestApp(t, path)
	shm, err := os.ReadFile(path + "-shm")
	if err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(dir, "copy.sqlite3") // a copy: SQLite's own mapping must not fault
	if err := os.WriteFile(fake+"-shm", shm, 0o600); err != nil {
		t.Fatal(err)
	}
	c := newReadCache(fake)
	if c == nil {
		t.Fatal("no cache on a copy of a live -shm file")
	}
	defer c.close()
	if _, ok := c.header(); !ok {
		t.Fatal("the copy's header is not whole")
	}
	if err := os.Truncate(fake+"-shm", 0); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.header(); ok {
		t.Error("a header read from a truncated file")
	}
}
