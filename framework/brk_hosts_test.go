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
	s.Database = "run/polls=v2.sqlite3" // a file name with = stays a file name
	if err := s.Validate(); err != nil && strings.Contains(err.Error(), ".database:") {
		t.Errorf("Validate(%q): %v", s.Database, err)
	}
}
