package polls

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Question is a poll: a question with its choices.
type Question struct {
	ID      int64
	Text    string
	PubDate time.Time
	Choices []Choice
}

// WasPublishedRecently reports whether q was published in the day before
// now (and not in the future), as in the tutorial's part 5.
func (q Question) WasPublishedRecently(now time.Time) bool {
	return !q.PubDate.After(now) && q.PubDate.After(now.Add(-24*time.Hour))
}

// TotalVotes sums the votes of all choices.
func (q Question) TotalVotes() int {
	n := 0
	for _, c := range q.Choices {
		n += c.Votes
	}
	return n
}

// Choice is one answer to a question, with its vote count.
type Choice struct {
	ID    int64
	Text  string
	Votes int
	// Selected marks the choice a re-rendered vote form had checked.
	Selected bool
}

var (
	errNoQuestion = errors.New("no such question")
	errNoChoice   = errors.New("no such choice")
)

// The pages' two reads, prepared by database/sql and, on SQLite, by
// sqliteReads on its own connections.
const (
	latestSQL   = `SELECT id, question_text, pub_date FROM question WHERE pub_date <= ? ORDER BY pub_date DESC, id DESC LIMIT ?`
	questionSQL = `SELECT q.id, q.question_text, q.pub_date, c.id, c.choice_text, c.votes
			FROM question q LEFT JOIN choice c ON c.question_id = q.id
			WHERE q.id = ? AND q.pub_date <= ? ORDER BY c.id`
)

// store is the models' access to the database, with its statements
// prepared once: parsing and planning SQL on every request would cost more
// than running it.
type store struct {
	db                        *sql.DB
	latest, question, voteFor *sql.Stmt
	// keepReadsCancel: the reads keep the request's cancellation (not
	// SQLite's: see readContext).
	keepReadsCancel bool
	// sqlite runs the pages' reads on SQLite (nil on PostgreSQL), and
	// cache keeps them while the database does not change (nil: none).
	sqlite *sqliteReads
	cache  *readCache
}

// newStore prepares the statements on db, the database at path (a SQLite
// file's path is needed for the reads' own connections).
func newStore(db *sql.DB, d *dialect, path string) (*store, error) {
	s := &store{db: db, keepReadsCancel: d != sqliteDialect}
	if d == sqliteDialect {
		s.sqlite = newSQLiteReads(db.Driver(), sqliteDSN(path))
		s.cache = newReadCache(path)
	}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.latest, latestSQL},
		{&s.question, questionSQL},
		// A count at the largest the admin accepts (Django's IntegerField,
		// PostgreSQL's integer) stays there: one more would overflow
		// PostgreSQL's column, and past SQLite's largest integer it would
		// be stored as a REAL that no page of the question could read.
		{&s.voteFor, `UPDATE choice SET votes = CASE WHEN votes < 2147483647 THEN votes + 1 ELSE votes END WHERE id = ? AND question_id = ?`},
	} {
		stmt, err := db.Prepare(d.bind(p.sql))
		if err != nil {
			s.close()
			return nil, fmt.Errorf("polls: preparing %q: %w", p.sql, err)
		}
		*p.stmt = stmt
	}
	return s, nil
}

// close closes the statements and the database.
func (s *store) close() error {
	if s.sqlite != nil {
		s.sqlite.close()
	}
	for _, st := range []*sql.Stmt{s.latest, s.question, s.voteFor} {
		if st != nil {
			st.Close()
		}
	}
	err := s.db.Close()
	if s.cache != nil {
		s.cache.close() // after the connections: it drops the process's locks on the -shm file
	}
	return err
}

// readContext is the context of the pages' reads: ctx without its
// cancellation. Given a context that can end, database/sql and the SQLite
// driver each start a goroutine per query to watch it (and the driver
// installs a progress handler), which cost more than these reads of a few
// rows by key: a WAL reader never waits for a writer, so there is nothing
// to cancel. Writes (vote) keep the request's context, and so do the reads
// of PostgreSQL, which can wait (a migration's lock, a server gone quiet)
// and would then outlive their request.
func (s *store) readContext(ctx context.Context) context.Context {
	if s.keepReadsCancel {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

// sqliteReader returns a reader of s.sqlite, or nil (PostgreSQL, or the
// pool is busy): the read then goes through database/sql.
func (s *store) sqliteReader() *sqliteReader {
	if s.sqlite == nil {
		return nil
	}
	return s.sqlite.get()
}

// latestQuestions returns the n most recently published questions,
// leaving out those published in the future.
func (s *store) latestQuestions(ctx context.Context, n int, now time.Time) ([]Question, error) {
	if s.cache == nil {
		return s.readLatest(ctx, n, now)
	}
	h, ok := s.cache.header()
	if ok {
		if qs, hit := s.cache.lookLatest(h, now.Unix(), n); hit {
			return qs, nil
		}
	}
	qs, err := s.readLatest(ctx, n, now)
	if h2, ok2 := s.cache.header(); err == nil && ok && ok2 && h2 == h {
		s.cache.putLatest(h, now.Unix(), n, qs)
	}
	return qs, err
}

// readLatest is latestQuestions's query.
func (s *store) readLatest(ctx context.Context, n int, now time.Time) ([]Question, error) {
	if r := s.sqliteReader(); r != nil {
		qs, err := r.latestQuestions(make([]Question, 0, min(n, 64)), n, now)
		s.sqlite.put(r, err)
		if err == nil {
			return qs, nil
		}
	}
	rows, err := s.latest.QueryContext(s.readContext(ctx), now.Unix(), int64(n)) // int64: a driver.Value as is, no conversion by reflection
	if err != nil {
		return nil, fmt.Errorf("polls: latest questions: %w", err)
	}
	defer rows.Close()
	qs := make([]Question, 0, min(n, 64)) // one allocation for the page's few
	for rows.Next() {
		var q Question
		var pub int64
		if err := rows.Scan(&q.ID, &q.Text, &pub); err != nil {
			return nil, fmt.Errorf("polls: latest questions: %w", err)
		}
		q.PubDate = time.Unix(pub, 0)
		qs = append(qs, q)
	}
	return qs, rows.Err()
}

// questionWithChoices returns a published question and its choices, or
// errNoQuestion (a future question does not exist yet for visitors). One
// query reads both (a question without choices is one row of NULLs), so
// the page takes one read transaction of SQLite's, not two.
func (s *store) questionWithChoices(ctx context.Context, id int64, now time.Time) (Question, error) {
	if s.cache == nil {
		return s.readQuestion(ctx, id, now)
	}
	h, ok := s.cache.header()
	if ok {
		if q, hit := s.cache.lookQuestion(h, now.Unix(), id); hit {
			return q, nil
		}
	}
	q, err := s.readQuestion(ctx, id, now)
	if h2, ok2 := s.cache.header(); err == nil && ok && ok2 && h2 == h {
		s.cache.putQuestion(h, now.Unix(), q)
	}
	return q, err
}

// readQuestion is questionWithChoices's query.
func (s *store) readQuestion(ctx context.Context, id int64, now time.Time) (Question, error) {
	if r := s.sqliteReader(); r != nil {
		q, found, err := r.questionWithChoices(id, now)
		s.sqlite.put(r, err)
		if err == nil && !found {
			return Question{}, errNoQuestion
		}
		if err == nil {
			return q, nil
		}
	}
	var q Question
	rows, err := s.question.QueryContext(s.readContext(ctx), id, now.Unix())
	if err != nil {
		return q, fmt.Errorf("polls: question %d: %w", id, err)
	}
	defer rows.Close()
	found := false
	for rows.Next() {
		var pub int64
		var cid sql.NullInt64
		var ctext sql.NullString
		var votes sql.NullInt64
		if err := rows.Scan(&q.ID, &q.Text, &pub, &cid, &ctext, &votes); err != nil {
			return q, fmt.Errorf("polls: question %d: %w", id, err)
		}
		if !found {
			found = true
			q.PubDate = time.Unix(pub, 0)
		}
		if cid.Valid {
			q.Choices = append(q.Choices, Choice{ID: cid.Int64, Text: ctext.String, Votes: int(votes.Int64)})
		}
	}
	if err := rows.Err(); err != nil {
		return q, fmt.Errorf("polls: question %d: %w", id, err)
	}
	if !found {
		return Question{}, errNoQuestion
	}
	return q, nil
}

// vote adds one vote to a choice of a question, atomically in SQL: two
// workers voting at once both count (the tutorial's F('votes') + 1).
func (s *store) vote(ctx context.Context, questionID, choiceID int64) error {
	res, err := s.voteFor.ExecContext(ctx, choiceID, questionID)
	if err != nil {
		return fmt.Errorf("polls: vote for choice %d: %w", choiceID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("polls: vote for choice %d: %w", choiceID, err)
	}
	if n == 0 {
		return errNoChoice
	}
	return nil
}

// Share returns c's share of all the votes of q, in percent, for the bar
// on the results page.
func (q Question) Share(c Choice) int {
	total := q.TotalVotes()
	if total == 0 {
		return 0
	}
	return c.Votes * 100 / total
}
