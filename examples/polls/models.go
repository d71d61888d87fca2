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

// store is the models' access to the database, with its statements
// prepared once: parsing and planning SQL on every request would cost more
// than running it.
type store struct {
	db                                 *sql.DB
	latest, question, choices, voteFor *sql.Stmt
}

func newStore(db *sql.DB, d *dialect) (*store, error) {
	s := &store{db: db}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.latest, `SELECT id, question_text, pub_date FROM question WHERE pub_date <= ? ORDER BY pub_date DESC, id DESC LIMIT ?`},
		{&s.question, `SELECT id, question_text, pub_date FROM question WHERE id = ? AND pub_date <= ?`},
		{&s.choices, `SELECT id, choice_text, votes FROM choice WHERE question_id = ? ORDER BY id`},
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
	for _, st := range []*sql.Stmt{s.latest, s.question, s.choices, s.voteFor} {
		if st != nil {
			st.Close()
		}
	}
	return s.db.Close()
}

// latestQuestions returns the n most recently published questions,
// leaving out those published in the future.
func (s *store) latestQuestions(ctx context.Context, n int, now time.Time) ([]Question, error) {
	rows, err := s.latest.QueryContext(ctx, now.Unix(), n)
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
// errNoQuestion (a future question does not exist yet for visitors).
func (s *store) questionWithChoices(ctx context.Context, id int64, now time.Time) (Question, error) {
	var q Question
	var pub int64
	err := s.question.QueryRowContext(ctx, id, now.Unix()).Scan(&q.ID, &q.Text, &pub)
	if errors.Is(err, sql.ErrNoRows) {
		return q, errNoQuestion
	}
	if err != nil {
		return q, fmt.Errorf("polls: question %d: %w", id, err)
	}
	q.PubDate = time.Unix(pub, 0)
	rows, err := s.choices.QueryContext(ctx, id)
	if err != nil {
		return q, fmt.Errorf("polls: choices of %d: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var c Choice
		if err := rows.Scan(&c.ID, &c.Text, &c.Votes); err != nil {
			return q, fmt.Errorf("polls: choices of %d: %w", id, err)
		}
		q.Choices = append(q.Choices, c)
	}
	return q, rows.Err()
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
