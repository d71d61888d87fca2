// Package polls is Django's tutorial app ("Writing your first Django app",
// parts 1 to 4 and 6) on this project's framework: questions with choices,
// an index of the latest ones, a detail page with a CSRF-protected vote
// form, the results, and a stylesheet. The files map one to one:
//
//	Django                      here
//	polls/models.py             models.go (Question, Choice; SQL through database/sql)
//	polls/migrations/           migrate.go (stack migrate, the release step; sample data on first run)
//	polls/urls.py               urls.go
//	polls/views.py              views.go
//	polls/templates/polls/      templates/polls/ (and templates/base.html)
//	polls/static/polls/         static/polls/
//	settings.py                 apps.polls in stack.yaml (framework.Settings)
//
// The database is SQLite through the pure-Go modernc.org/sqlite driver, so
// the binary stays static; WAL mode and a busy timeout let several worker
// processes vote at once without losing a vote. A postgres:// database is
// PostgreSQL through pgx, also pure Go, for app servers on several hosts
// (db.go holds what differs).
package polls

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/stack-web/stack/framework"
	"github.com/stack-web/stack/framework/auth"
)

//go:embed templates static
var files embed.FS

// App is the polls site: the framework app and its database.
type App struct {
	*framework.App
	store *store
	// Users are the site's users (auth_user in the polls database): the
	// admin's staff, and `stack createsuperuser`'s.
	Users *auth.Auth
}

// DefaultSettings are the settings polls runs with when stack.yaml says
// nothing: Django's global defaults, debug off (so secret_key and
// allowed_hosts are required). The repository's development stack.yaml
// turns debug on, as startproject's settings.py does.
func DefaultSettings() framework.Settings {
	s := framework.DefaultSettings()
	s.Name = "polls"
	s.DefaultDatabase = defaultDatabase // `stack check` tests it as the workers' user
	return s
}

// errNoUsersOnPostgres: users, login and the admin keep their tables with
// SQLite's SQL for now; polls itself runs on either database.
var errNoUsersOnPostgres = errors.New("users and the admin (/admin/) need the SQLite database for now; on PostgreSQL polls serves its pages without them")

// open opens and migrates the polls database of settings (Database ""
// means <runDir>/polls.sqlite3), seeding sample questions on first run.
// released, if not nil, waits until the release phase is over (see
// NewAfterRelease): it is called before the schema is migrated, unless the
// database is already at this binary's version.
func open(settings framework.Settings, runDir string, released func() error) (*sql.DB, *dialect, error) {
	path := dbPath(settings, runDir)
	db, d, err := openDB(path)
	if err != nil {
		return nil, d, err
	}
	if released != nil && !current(db, d) {
		if err := released(); err != nil {
			db.Close()
			return nil, d, err
		}
	} else if released != nil {
		return db, d, nil // migrate would have nothing to do
	}
	if err := migrate(db, d); err != nil {
		db.Close()
		return nil, d, fmt.Errorf("polls: migrating %s: %w", displayName(path), err)
	}
	return db, d, nil
}

// OpenUsers opens the polls database's users, for `stack createsuperuser`
// and `stack changepassword`. Close the returned database when done.
func OpenUsers(settings framework.Settings, runDir string, logger *slog.Logger) (*auth.Auth, *sql.DB, error) {
	db, d, err := open(settings, runDir, nil)
	if err != nil {
		return nil, nil, err
	}
	if d != sqliteDialect {
		db.Close()
		return nil, nil, errNoUsersOnPostgres
	}
	users, err := auth.New(db, auth.Options{SecretKey: settings.SecretKey, SecretKeyFallbacks: settings.SecretKeyFallbacks,
		SessionAge: time.Duration(settings.SessionCookieAge) * time.Second, Logger: logger})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return users, db, nil
}

// New builds the polls app. settings.Database "" means
// <runDir>/polls.sqlite3. It opens the database, migrates the schema and
// seeds sample questions on first run.
func New(settings framework.Settings, runDir string, logger *slog.Logger) (*App, error) {
	return NewAfterRelease(settings, runDir, logger, nil)
}

// NewAfterRelease is New for a worker process that builds its app while
// its master may still be running the release phase, whose only step is
// this app's migrate (cli: `stack up`'s default release): released waits
// until the release is over (nil: it is). A database already at this
// binary's schema version is one the release leaves as it is, so the whole
// app is built at once, beside the release; any other (new, older, or not
// SQLite) waits for released before New migrates it, so that the release,
// not the worker, applies the migrations and reports them.
func NewAfterRelease(settings framework.Settings, runDir string, logger *slog.Logger, released func() error) (*App, error) {
	if settings.Name == "" {
		settings.Name = "polls"
	}
	db, d, err := open(settings, runDir, released)
	if err != nil {
		return nil, err
	}
	st, err := newStore(db, d, dbPath(settings, runDir))
	if err != nil {
		db.Close()
		return nil, err
	}
	a := &App{store: st}
	// The project's urls.py: the site's root shows the index too, and the
	// admin is at admin/.
	urls := []framework.Pattern{
		framework.Path("", a.index, "home"),
		framework.Include("polls/", "polls", a.urls()...),
	}
	if d == sqliteDialect {
		users, err := auth.New(db, auth.Options{SecretKey: settings.SecretKey, SecretKeyFallbacks: settings.SecretKeyFallbacks,
			SessionAge: time.Duration(settings.SessionCookieAge) * time.Second, Logger: logger})
		if err != nil {
			st.close()
			return nil, err
		}
		site, err := newAdmin(context.Background(), db, users)
		if err != nil {
			st.close()
			return nil, err
		}
		a.Users = users
		urls = append(urls, site.Pattern())
	} else {
		logger.Warn("polls: " + errNoUsersOnPostgres.Error())
	}
	app, err := framework.New(settings, framework.Config{
		URLs:   urls,
		Apps:   []framework.AppConfig{appConfig()},
		Logger: logger,
	})
	if err != nil {
		st.close()
		return nil, err
	}
	a.App = app
	return a, nil
}

// Close closes the database.
func (a *App) Close() error { return a.store.close() }

// appConfig is polls' INSTALLED_APPS entry: its templates and static files.
func appConfig() framework.AppConfig {
	t, err := fs.Sub(files, "templates")
	if err != nil {
		panic(err) // the embed directive guarantees the folder
	}
	s, err := fs.Sub(files, "static")
	if err != nil {
		panic(err)
	}
	return framework.AppConfig{Name: "polls", Templates: t, Static: s}
}
