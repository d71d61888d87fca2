package framework

import (
	"strings"
	"testing"
)

// A libpq key=value connection string was taken for a SQLite file name:
// `stack check` passed, and the app created a database file named with the
// password, which migrate then printed. Check refuses it, without quoting
// it (it holds the password), and points at the postgres:// URL.
func TestValidateRefusesAKeyValueConnectionString(t *testing.T) {
	s := testSettings()
	s.Database = "host=db.example port=5432 user=app password=kv-secret-value dbname=polls"
	err := s.Validate()
	if err == nil || !strings.Contains(err.Error(), ".database:") || !strings.Contains(err.Error(), "postgres://") {
		t.Fatalf("Validate: %v, want a database error pointing at postgres://", err)
	}
	if strings.Contains(err.Error(), "kv-secret-value") {
		t.Errorf("the error quotes the password: %v", err)
	}
	// So is a URL of another scheme, or with the scheme in capitals,
	// which polls does not take for PostgreSQL.
	for _, db := range []string{"Postgres://app:kv-secret-value@db/polls", "mysql://app:kv-secret-value@db/polls"} {
		s.Database = db
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "URL is not a database the app opens") || strings.Contains(err.Error(), "kv-secret-value") {
			t.Errorf("Validate(%s): %v, want a refusal that does not quote the password", db[:5], err)
		}
	}
	s.Database = "run/polls=v2.sqlite3" // a file name with = stays a file name
	if err := s.Validate(); err != nil && strings.Contains(err.Error(), ".database:") {
		t.Errorf("Validate(%q): %v", s.Database, err)
	}
}

// The debug 500 page listed database with a password given as the URL's
// password parameter (libpq's, pgx's) in the clear.
func TestDebug500MasksADatabasePasswordParameter(t *testing.T) {
	s := testSettings()
	s.Debug = true
	s.Database = "postgres://app@db.example/polls?sslmode=disable&password=query-password-value"
	c := newClient(t, fixture(t, s, &logBuffer{}))
	w := c.do("GET", "/panic/", nil, nil)
	body := w.Body.String()
	if w.Code != 500 || !strings.Contains(body, "db.example") {
		t.Fatalf("%d: the debug page does not list database:\n%s", w.Code, body)
	}
	if strings.Contains(body, "query-password-value") {
		t.Errorf("the database password parameter is on the debug page")
	}
}

// check passed a postgres:// URL whose sslmode or connect_timeout the
// driver refuses, so `stack up` failed at start after check said valid.
func TestValidateChecksTheURLsSSLModeAndConnectTimeout(t *testing.T) {
	for q, want := range map[string]string{
		"sslmode=bogus":       `sslmode "bogus" is not one of`,
		"connect_timeout=abc": `connect_timeout "abc" is not a number of seconds`,
	} {
		s := testSettings()
		s.Database = "postgres://app:pw-value@db.example/polls?" + q
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), ".database: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate(?%s): %v, want %q", q, err, want)
		}
	}
	s := testSettings()
	s.Database = "postgres://app:pw-value@db.example/polls?sslmode=verify-full&connect_timeout=5"
	if err := s.Validate(); err != nil && strings.Contains(err.Error(), ".database") {
		t.Errorf("Validate(a good URL): %v", err)
	}
}

// ":memory:" passed check, then polls answered 500: each connection of
// each process opens a new, empty database, without the release's tables.
func TestValidateRefusesAnInMemoryDatabase(t *testing.T) {
	s := testSettings()
	s.Database = ":memory:"
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), ".database:") || !strings.Contains(err.Error(), "in-memory") {
		t.Errorf("Validate(:memory:): %v, want a refusal naming the in-memory database", err)
	}
	if got := s.WriteAtStart(t.TempDir()); len(got) != 0 {
		t.Errorf("WriteAtStart(:memory:) = %v, want no file to check", got)
	}
}
