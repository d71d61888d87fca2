package polls

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
)

// A worker may build polls while its master still runs the release (the
// app's own migrate): NewAfterRelease waits for the release before it
// migrates a database that is not at this binary's version, so that the
// release applies and reports the migrations; a database already current
// is built at once, without waiting.
func TestNewAfterReleaseWaitsOnlyForADatabaseTheReleaseChanges(t *testing.T) {
	dir := t.TempDir()
	settings := DefaultSettings()
	settings.SecretKey = "test-secret-key-that-is-long-enough-for-django-w009-0123456789"
	settings.AllowedHosts = []string{"localhost"}
	stopped := errors.New("master stopped")
	waited := 0
	// A new database: the release has not run, and the master stops.
	if _, err := NewAfterRelease(settings, dir, nil, func() error { waited++; return stopped }); !errors.Is(err, stopped) || waited != 1 {
		t.Fatalf("new database: NewAfterRelease = %v after %d waits; want the release's error after 1", err, waited)
	}
	db, err := sql.Open("sqlite", sqliteDSN(filepath.Join(dir, "polls.sqlite3")))
	if err != nil {
		t.Fatal(err)
	}
	var v int
	if err := db.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil || v != 0 {
		t.Errorf("the worker migrated before the release: user_version %d, %v", v, err)
	}
	db.Close()

	// The release then runs and reports the migrations itself.
	var out bytes.Buffer
	if err := Migrate(context.Background(), settings, dir, &out); err != nil || !bytes.Contains(out.Bytes(), []byte("Applying polls.0001_initial... OK")) {
		t.Fatalf("release after the worker's wait: %v\n%s", err, out.String())
	}
	// A current database: built without waiting.
	waited = 0
	app, err := NewAfterRelease(settings, dir, nil, func() error { waited++; return stopped })
	if err != nil || waited != 0 {
		t.Fatalf("current database: NewAfterRelease = %v after %d waits; want built with none", err, waited)
	}
	app.Close()
}
