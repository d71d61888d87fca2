package polls

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"time"

	"github.com/stack-web/stack/framework"
)

// migration is one step of the schema, named as Django names its
// migration files, so that `stack migrate` says what it applies.
type migration struct {
	name string
	sql  string
}

// migrations are applied in order, their SQL rendered for the database
// (dialect.schema); the database records how many have been (SQLite's
// PRAGMA user_version, a table in PostgreSQL), so start-up is idempotent
// (Django's migrate).
var migrations = []migration{
	{"0001_initial", `CREATE TABLE question (
		id            {{id}},
		question_text TEXT    NOT NULL,
		pub_date      {{int64}} NOT NULL -- unix seconds
	);
	CREATE TABLE choice (
		id          {{id}},
		question_id {{int64}} NOT NULL REFERENCES question(id) ON DELETE CASCADE,
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
	db, d, err := openDB(path)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(out, "Operations to perform:\n  Apply all migrations: polls (database %s)\n", displayName(path))
	if err := migrateReporting(ctx, db, d, out); err != nil {
		return fmt.Errorf("polls: migrating %s: %w", displayName(path), err)
	}
	return nil
}

// defaultDatabase is polls' database in run_dir when settings.Database is
// empty (DefaultSettings' DefaultDatabase).
const defaultDatabase = "polls.sqlite3"

// dbPath is the database polls opens, as `stack check` sees it through
// framework.Settings.DatabasePath.
func dbPath(settings framework.Settings, runDir string) string {
	if settings.DefaultDatabase == "" {
		settings.DefaultDatabase = defaultDatabase // settings not made by DefaultSettings (a test's, a program's own)
	}
	return settings.DatabasePath(runDir)
}

// current reports whether the SQLite database db is at this binary's
// schema version, read without a transaction (a write lock would wait for
// the release's); false for PostgreSQL, whose version is in a table
// migrate creates.
func current(db *sql.DB, d *dialect) bool {
	if d != sqliteDialect {
		return false
	}
	var v int
	return db.QueryRow(`PRAGMA user_version`).Scan(&v) == nil && v == len(migrations)
}

// migrate is what New runs: Migrate's work, silently (a no-op once the
// release step has run).
func migrate(db *sql.DB, d *dialect) error {
	return migrateReporting(context.Background(), db, d, io.Discard)
}

// migrateReporting brings the schema up to date in one transaction and,
// when the database was new, seeds the sample questions. Each step is
// reported to out ("[1/2] Applying polls.0001_initial... OK").
func migrateReporting(ctx context.Context, db *sql.DB, d *dialect, out io.Writer) error {
	tx, err := db.BeginTx(ctx, nil) // SQLite's is IMMEDIATE: two processes starting at once migrate one after the other
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if d.lockMigrations != "" { // so are PostgreSQL's, on several hosts too
		if _, err := tx.ExecContext(ctx, d.lockMigrations); err != nil {
			return err
		}
	}
	version, err := d.version(ctx, tx)
	if err != nil {
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
		if _, err := tx.ExecContext(ctx, d.schema(m.sql)); err != nil {
			fmt.Fprintln(out, " FAILED")
			return fmt.Errorf("%s: %w", m.name, err)
		}
		fmt.Fprintf(out, " OK (%s)\n", time.Since(start).Round(time.Millisecond))
	}
	if version == 0 {
		fmt.Fprintf(out, "  [%d/%d] Seeding %d sample questions...", steps, steps, len(sample))
		if err := seed(tx, d, time.Now()); err != nil {
			fmt.Fprintln(out, " FAILED")
			return fmt.Errorf("seeding: %w", err)
		}
		fmt.Fprintln(out, " OK")
	}
	if err := d.setVersion(ctx, tx, len(migrations)); err != nil {
		return err
	}
	return tx.Commit()
}
