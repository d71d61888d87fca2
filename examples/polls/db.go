package polls

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver: the binary stays static
)

// openDB opens the SQLite database at path, creating it. WAL lets readers
// run beside the one writer, and the busy timeout makes a writer wait for
// the lock (held by another worker process) instead of failing: a vote is
// never lost to SQLITE_BUSY.
func openDB(path string) (*sql.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("polls: database directory: %w", err)
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate") // a transaction that will write takes the lock up front
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("polls: opening %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("polls: opening %s: %w", path, err)
	}
	return db, nil
}

// sample questions, as created in the tutorial's shell session (and one in
// the future, which the index must not show).
var sample = []struct {
	text    string
	age     time.Duration // published this long before now; negative: in the future
	choices []string
}{
	{"What's new?", 2 * time.Hour, []string{"Not much", "The sky", "Just hacking again"}},
	{"Which tier do you trust with slow clients?", 26 * time.Hour, []string{"The edge", "The app server", "The app"}},
	{"Tabs or spaces?", 72 * time.Hour, []string{"Tabs", "Spaces", "gofmt decides"}},
	{"Which protocol is cheapest on the wire?", 5 * 24 * time.Hour, []string{"CGI", "FastCGI", "uwsgi", "HTTP"}},
	{"Will this question be published tomorrow?", -24 * time.Hour, []string{"Yes", "No"}},
}

func seed(tx *sql.Tx, now time.Time) error {
	for _, q := range sample {
		res, err := tx.Exec(`INSERT INTO question (question_text, pub_date) VALUES (?, ?)`, q.text, now.Add(-q.age).Unix())
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		for _, c := range q.choices {
			if _, err := tx.Exec(`INSERT INTO choice (question_id, choice_text) VALUES (?, ?)`, id, c); err != nil {
				return err
			}
		}
	}
	return nil
}
