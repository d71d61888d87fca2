package polls

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stack-web/stack/internal/pgtest"
)

// On PostgreSQL a read can wait (a migration's lock, a server that stops
// answering): the detail page's read must still end with the request's
// context, as it did before the reads dropped cancellation for SQLite's
// sake.
func TestBrkPostgresReadEndsWithTheRequest(t *testing.T) {
	pg := pgtest.Start(t, pgtest.Options{})
	settings := DefaultSettings()
	settings.SecretKey = "test-secret-key-that-is-long-enough"
	settings.AllowedHosts = []string{"*"}
	settings.Database = pg.URL
	a, err := New(settings, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	db := a.store.db
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`LOCK TABLE choice IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	release := time.AfterFunc(8*time.Second, func() { tx.Rollback() }) // bound the test if the read does not end
	defer func() {
		if release.Stop() {
			tx.Rollback()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = a.store.questionWithChoices(ctx, 1, time.Now())
	took := time.Since(start)
	t.Logf("read under a lock with a 300ms request: %v after %v", err, took)
	if err == nil || took > 5*time.Second {
		t.Fatalf("the read outlived its request: err %v after %v", err, took)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if _, err := a.store.latestQuestions(ctx2, 5, time.Now()); err != nil {
		t.Logf("index read (question not locked): %v", err)
	}
}

// Detail reads racing an admin adding choices and votes on them (SQLite):
// every read sees a consistent snapshot: choices in id order, each once,
// never fewer than a read before, votes never going back.
func TestBrkDetailReadsRaceChoicesAndVotes(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "db.sqlite3"))
	var qid int64
	if err := a.store.db.QueryRow(`INSERT INTO question (question_text, pub_date) VALUES ('Race?', ?) RETURNING id`,
		time.Now().Add(-time.Hour).Unix()).Scan(&qid); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // the admin: a choice, then a vote for it
		defer close(stop)
		for i := range 150 {
			var cid int64
			if err := a.store.db.QueryRow(`INSERT INTO choice (question_id, choice_text, votes) VALUES (?, ?, 0) RETURNING id`, qid, fmt.Sprint("c", i)).Scan(&cid); err != nil {
				t.Error(err)
				return
			}
			if err := a.store.vote(context.Background(), qid, cid); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for range 2 {
		wg.Go(func() {
			seen, total := 0, 0
			for {
				select {
				case <-stop:
					return
				default:
				}
				q, err := a.store.questionWithChoices(context.Background(), qid, time.Now())
				if err != nil {
					t.Error(err)
					return
				}
				votes := 0
				for i, c := range q.Choices {
					if i > 0 && c.ID <= q.Choices[i-1].ID {
						t.Errorf("choices out of order: %+v", q.Choices)
						return
					}
					votes += c.Votes
				}
				if len(q.Choices) < seen || votes < total || q.Text != "Race?" {
					t.Errorf("went back: %d choices %d votes after %d, %d", len(q.Choices), votes, seen, total)
					return
				}
				seen, total = len(q.Choices), votes
			}
		})
	}
	wg.Wait()
	q, err := a.store.questionWithChoices(context.Background(), qid, time.Now())
	if err != nil || len(q.Choices) != 150 || q.TotalVotes() != 150 {
		t.Fatalf("after: %d choices, %d votes, %v", len(q.Choices), q.TotalVotes(), err)
	}
}
