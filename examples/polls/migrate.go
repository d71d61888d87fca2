package polls

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/stack-web/stack/framework"
)

// migration is one step of the schema, named as Django names its
// migration files, so that `stack migrate` says what it applies.
type migration struct {
	name string
	sql  string
}

// migrations are applied in order; PRAGMA user_version records how many
// have been, so start-up is idempotent (Django's migrate).
var migrations = []migration{
	{"0001_initial", `CREATE TABLE question (
		id            INTEGER PRIMARY KEY,
		question_text TEXT    NOT NULL,
		pub_date      INTEGER NOT NULL -- unix seconds
	);
	CREATE TABLE choice (
		id          INTEGER PRIMARY KEY,
		question_id INTEGER NOT NULL REFERENCES question(id) ON DELETE CASCADE,
		choice_text TEXT    NOT NULL,
		votes       INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX choice_question ON choice(question_id);
	CREATE INDEX question_pub_date ON question(pub_date);`},
}

// Migrate brings the database named by settings (default
// <runDir>/polls.sqlite3, as New) up to date, printing each step to out as
// Django's `manage.py migrate` does, with how far along it is. It is what
// `stack migrate` runs, and so polls' default release step; New migrates
// too (a no-op once this has run), so the app also works without one.
func Migrate(ctx context.Context, settings framework.Settings, runDir string, out io.Writer) error {
	path := dbPath(settings, runDir)
	db, err := openDB(path)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(out, "Operations to perform:\n  Apply all migrations: polls (database %s)\n", path)
	if err := migrateReporting(ctx, db, out); err != nil {
		return fmt.Errorf("polls: migrating %s: %w", path, err)
	}
	return nil
}

func dbPath(settings framework.Settings, runDir string) string {
	if settings.Database != "" {
		return settings.Database
	}
	return filepath.Join(runDir, "polls.sqlite3")
}

// migrate is what New runs: Migrate's work, silently (a no-op once the
// release step has run).
func migrate(db *sql.DB) error { return migrateReporting(context.Background(), db, io.Discard) }

// migrateReporting brings the schema up to date in one transaction and,
// when the database was new, seeds the sample questions. Each step is
// reported to out ("[1/2] Applying polls.0001_initial... OK").
func migrateReporting(ctx context.Context, db *sql.DB, out io.Writer) error {
	tx, err := db.BeginTx(ctx, nil) // IMMEDIATE: two processes starting at once migrate one after the other
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("the database is at schema version %d, newer than this binary's %d", version, len(migrations))
	}
	if version == len(migrations) {
		fmt.Fprintln(out, "Running migrations:\n  No migrations to apply.")
		return nil
	}
	todo := migrations[version:]
	steps := len(todo)
	if version == 0 {
		steps++ // the sample data
	}
	fmt.Fprintln(out, "Running migrations:")
	for i, m := range todo {
		fmt.Fprintf(out, "  [%d/%d] Applying polls.%s...", i+1, steps, m.name)
		start := time.Now()
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			fmt.Fprintln(out, " FAILED")
			return fmt.Errorf("%s: %w", m.name, err)
		}
		fmt.Fprintf(out, " OK (%s)\n", time.Since(start).Round(time.Millisecond))
	}
	if version == 0 {
		fmt.Fprintf(out, "  [%d/%d] Seeding %d sample questions...", steps, steps, len(sample))
		if err := seed(tx, time.Now()); err != nil {
			fmt.Fprintln(out, " FAILED")
			return fmt.Errorf("seeding: %w", err)
		}
		fmt.Fprintln(out, " OK")
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, len(migrations))); err != nil {
		return err
	}
	return tx.Commit()
}
