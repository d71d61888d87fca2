package polls

import (
	"context"
	"log/slog"
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
