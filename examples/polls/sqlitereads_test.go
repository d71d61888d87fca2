package polls

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"
)

// viaDatabaseSQL is a's store with the SQLite reads left to database/sql,
// the path the reads took before sqliteReads.
func viaDatabaseSQL(a *App) *store {
	plain := *a.store
	plain.sqlite, plain.cache = nil, nil
	return &plain
}

func openReaders(p *sqliteReads) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.open
}

// The driver's own connections read what database/sql's read, question by
// question (with and without choices, in the future, missing) and for
// every length of the index.
func TestSQLiteReadsAgreeWithDatabaseSQL(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "db.sqlite3"))
	if _, err := a.store.db.Exec(`INSERT INTO question (question_text, pub_date) VALUES ('Alone?', ?)`, time.Now().Add(-time.Hour).Unix()); err != nil {
		t.Fatal(err)
	}
	plain := viaDatabaseSQL(a)
	ctx, now := context.Background(), time.Now()
	for n := 0; n <= 7; n++ {
		got, err1 := a.store.readLatest(ctx, n, now)
		want, err2 := plain.latestQuestions(ctx, n, now)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("latest %d: %+v, %v; database/sql: %+v, %v", n, got, err1, want, err2)
		}
	}
	for id := int64(0); id <= 8; id++ {
		got, err1 := a.store.readQuestion(ctx, id, now)
		want, err2 := plain.questionWithChoices(ctx, id, now)
		if !errors.Is(err1, err2) || !reflect.DeepEqual(got, want) {
			t.Errorf("question %d: %+v, %v; database/sql: %+v, %v", id, got, err1, want, err2)
		}
	}
	if openReaders(a.store.sqlite) == 0 {
		t.Error("no read went through the driver's own connections")
	}
}

// Each read ends its read transaction: a vote and a new question committed
// by another process (another App on the same file) show at once through
// a connection that read before them.
func TestSQLiteReadsSeeOtherProcessesWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite3")
	a, b := newTestApp(t, path), newTestApp(t, path)
	if a.store.cache == nil {
		t.Fatal("no read cache on a SQLite database in WAL mode")
	}
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		if _, err := a.store.questionWithChoices(ctx, 1, time.Now()); err != nil { // kept, then stale
			t.Fatal(err)
		}
		q, err := a.store.questionWithChoices(ctx, 1, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if q.Choices[0].Votes != i-1 {
			t.Fatalf("read %d: %d votes for choice 1, want %d", i, q.Choices[0].Votes, i-1)
		}
		if err := b.store.vote(ctx, 1, q.Choices[0].ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.store.latestQuestions(ctx, 5, time.Now()); err != nil { // kept, then stale
		t.Fatal(err)
	}
	if _, err := b.store.db.Exec(`INSERT INTO question (question_text, pub_date) VALUES ('Fresh?', ?)`, time.Now().Add(-time.Minute).Unix()); err != nil {
		t.Fatal(err)
	}
	qs, err := a.store.latestQuestions(ctx, 5, time.Now())
	if err != nil || len(qs) != 5 || qs[0].Text != "Fresh?" {
		t.Errorf("after another process added a question: %+v, %v", qs, err)
	}
	if n := openReaders(a.store.sqlite); n != 1 {
		t.Errorf("%d connections for reads one after another, want 1", n)
	}
}

// What the reads do not handle goes to database/sql, with its answer: a
// text stored as a BLOB (Scan converts it), and reads while every
// connection of the pool is taken.
func TestSQLiteReadsFallBack(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "db.sqlite3"))
	ctx := context.Background()
	if _, err := a.store.db.Exec(`UPDATE question SET question_text = CAST('Blob?' AS BLOB) WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	q, err := a.store.readQuestion(ctx, 1, time.Now())
	if err != nil || q.Text != "Blob?" || len(q.Choices) != 3 {
		t.Errorf("a BLOB question text: %+v, %v", q, err)
	}
	qs, err := a.store.readLatest(ctx, 5, time.Now())
	if err != nil || len(qs) != 4 || qs[0].Text != "Blob?" {
		t.Errorf("a BLOB question text in the index: %+v, %v", qs, err)
	}

	p := a.store.sqlite
	var held []*sqliteReader
	for {
		r := p.get()
		if r == nil {
			break
		}
		held = append(held, r)
	}
	if len(held) != maxSQLiteReaders {
		t.Fatalf("the pool gave %d connections, want %d", len(held), maxSQLiteReaders)
	}
	if qs, err := a.store.readLatest(ctx, 5, time.Now()); err != nil || len(qs) != 4 {
		t.Errorf("with the pool taken: %+v, %v", qs, err)
	}
	if n := openReaders(p); n != maxSQLiteReaders {
		t.Errorf("%d connections open, want %d", n, maxSQLiteReaders)
	}
	// Closing the pool closes the idle ones now and those in use when
	// they come back.
	p.put(held[0], nil)
	p.close()
	for _, r := range held[1:] {
		p.put(r, nil)
	}
	if n := openReaders(p); n != 0 {
		t.Errorf("%d connections open after close", n)
	}
	if qs, err := a.store.readLatest(ctx, 5, time.Now()); err != nil || len(qs) != 4 {
		t.Errorf("after the pool closed: %+v, %v", qs, err)
	}
}

// Goroutines reading while others vote (run with -race): every read is
// whole, the counts only grow, and the pool stays within its bound.
func TestSQLiteReadsConcurrent(t *testing.T) {
	a := newTestApp(t, filepath.Join(t.TempDir(), "db.sqlite3"))
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 6 {
		wg.Go(func() {
			last := 0
			for range 60 {
				if g%3 == 0 {
					if err := a.store.vote(ctx, 2, 4); err != nil {
						errs <- err
						return
					}
				}
				q, err := a.store.questionWithChoices(ctx, 2, time.Now())
				if err != nil || len(q.Choices) != 3 || q.Choices[0].Votes < last {
					errs <- errors.Join(err, errors.New("question 2 read short or going back"))
					return
				}
				last = q.Choices[0].Votes
				if qs, err := a.store.latestQuestions(ctx, 5, time.Now()); err != nil || len(qs) != 4 {
					errs <- errors.Join(err, errors.New("index read short"))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := openReaders(a.store.sqlite); n < 1 || n > maxSQLiteReaders {
		t.Errorf("%d connections open, want 1 to %d", n, maxSQLiteReaders)
	}
	if got := votesOf(t, a.store.db, 4); got != 2*60 {
		t.Errorf("%d votes for choice 4, want 120", got)
	}
}
