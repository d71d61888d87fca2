// Package pathcheck looks at the files a framework app reads at start (its
// template folders and its database, a SQLite path or a PostgreSQL URL)
// without changing anything, so that `stack check` reports what `stack up`
// would otherwise fail on. It stands alone because it is start-up
// validation against the machine, not request handling: the framework's
// Settings.Validate calls it, nothing on the request path does.
package pathcheck

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/stack-web/stack/framework/templates"
)

// Check reports through bad what the framework's New (and an app opening
// its database) would fail on at start, looking at the machine
// read-only: a template folder that is missing or not a folder, a
// template in the folders that New would refuse (read as New reads them:
// together, an earlier folder's file hiding a later one's), and a SQLite
// database that is a folder, is not a database, or whose folder cannot be
// created. Messages start with the setting's key (template_dirs[i],
// database).
func Check(templateDirs []string, database string, bad func(format string, args ...any)) {
	var dirs []fs.FS // the folders New would read, checked together:
	var index []int  // a name in one hides it in the later ones, as in New
	for i, d := range templateDirs {
		if d == "" {
			continue // reported as empty
		}
		if fi, err := os.Stat(d); err != nil {
			bad("template_dirs[%d]: %v", i, err)
		} else if !fi.IsDir() {
			bad("template_dirs[%d]: %s is not a directory", i, d)
		} else {
			dirs, index = append(dirs, os.DirFS(d)), append(index, i)
		}
	}
	templates.CheckSources(dirs, func(src int, err error) {
		bad("template_dirs[%d]: %v", index[src], err)
	})
	switch {
	case isPostgresURL(database):
		if err := checkDatabaseURL(database); err != nil {
			bad("database: %v", err)
		}
	case otherScheme(database) != "":
		// Never quoted: its user information may hold the password.
		bad("database: a %s:// URL is not a database the app opens (it would be taken for a SQLite file name); "+
			"use a SQLite file's path, or a URL in lower case: postgres://USER:PASSWORD@HOST:5432/DBNAME", otherScheme(database))
	case isKeyValue(database):
		// Never quoted: it may hold the password.
		bad("database: a key=value connection string is not supported (it would be taken for a SQLite file name); " +
			"use a URL: postgres://USER:PASSWORD@HOST:5432/DBNAME?sslmode=...")
	case database == sqliteMemory:
		bad("database: %q is SQLite's in-memory database: a new, empty one for every connection and every process, "+
			"so the release's migrations and the workers' connections would never share it; give a file's path", database)
	case database != "":
		if err := checkSQLitePath(database); err != nil {
			bad("database: %v", err)
		}
	}
}

// sqliteMemory is the name SQLite opens as a database in memory, in a
// URI filename too (as the apps' DSNs are), rather than as a file.
const sqliteMemory = ":memory:"

// IsSQLiteFile reports whether database names a SQLite file: not empty
// (the app's default), not SQLite's in-memory name, not a PostgreSQL URL, not another URL or a libpq
// key=value string (which Check refuses, and which may hold a password).
func IsSQLiteFile(database string) bool {
	return database != "" && database != sqliteMemory && !isPostgresURL(database) && otherScheme(database) == "" && !isKeyValue(database)
}

// otherScheme is the scheme of a URL database that is not a PostgreSQL
// URL as the app recognises it (mysql://, Postgres://), else "". Taken
// for a SQLite file name, such a URL was created as a file named with its
// password, and `stack check` (as appserver.user) printed it.
func otherScheme(database string) string {
	scheme, _, ok := strings.Cut(database, "://")
	if !ok || isPostgresURL(database) || scheme == "" || !isSchemeStart(scheme[0]) {
		return ""
	}
	for _, c := range []byte(scheme) {
		if !isSchemeStart(c) && !('0' <= c && c <= '9') && c != '+' && c != '-' && c != '.' {
			return ""
		}
	}
	return scheme
}

// isSchemeStart reports whether c may start a URL scheme (RFC 3986: a
// letter).
func isSchemeStart(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isPostgresURL(database string) bool {
	return strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://")
}

func isKeyValue(database string) bool {
	return strings.Contains(database, "=") && libpqKeyValue().MatchString(database)
}

// libpqKeyValue matches a libpq key=value connection string ("host=db
// user=app password=..."), which database does not take. Compiled at
// the first use, not in every process's package init.
var libpqKeyValue = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)(?:^|\s)(?:host|hostaddr|port|user|password|dbname|sslmode)\s*=`)
})

// checkDatabaseURL checks a PostgreSQL URL's shape (the server is reached
// only when the app starts). Its messages never quote the URL: it may hold
// a password.
func checkDatabaseURL(dsn string) error {
	u, err := url.Parse(dsn)
	switch {
	case err != nil:
		return errors.New("not a valid postgres:// URL (is a character in the password not %-escaped?)")
	case u.Host == "":
		return errors.New("the postgres:// URL names no host; use postgres://USER:PASSWORD@HOST:5432/DBNAME")
	case strings.Trim(u.Path, "/") == "":
		return errors.New("the postgres:// URL names no database; use postgres://USER:PASSWORD@HOST:5432/DBNAME")
	}
	// What the driver refuses when the app connects, caught here.
	q := u.Query()
	if m := q.Get("sslmode"); q.Has("sslmode") && !slices.Contains(sslModes, m) {
		return fmt.Errorf("the postgres:// URL's sslmode %q is not one of %s", m, strings.Join(sslModes, ", "))
	}
	if ct := q.Get("connect_timeout"); q.Has("connect_timeout") {
		if _, err := strconv.ParseUint(ct, 10, 31); err != nil {
			return fmt.Errorf("the postgres:// URL's connect_timeout %q is not a number of seconds", ct)
		}
	}
	return nil
}

// sslModes are libpq's sslmode values.
var sslModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

// sqliteHeader starts every SQLite database file.
var sqliteHeader = []byte("SQLite format 3\x00")

func checkSQLitePath(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return fmt.Errorf("%s is a directory; give the database file's path", path)
	case err == nil:
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		head := make([]byte, len(sqliteHeader))
		n, _ := f.Read(head)
		if n > 0 && !bytes.Equal(head[:n], sqliteHeader[:n]) || n > 0 && n < len(head) {
			return fmt.Errorf("%s is not a SQLite database", path)
		}
		// SQLite writes the file, and its journal files beside it.
		if err := syscall.Access(path, 0o6); err != nil { // R_OK|W_OK
			return fmt.Errorf("%s: %w (the app writes to it)", path, err)
		}
		// Beside the file a symbolic link points to: SQLite follows it.
		real, err := filepath.EvalSymlinks(path)
		if err != nil {
			return err
		}
		if dir := filepath.Dir(real); syscall.Access(dir, 0o3) != nil { // W_OK|X_OK
			return fmt.Errorf("%s: this user cannot create files in %s (SQLite keeps its journal there)", path, dir)
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	// The file and missing folders are created: the nearest existing
	// ancestor must be a folder.
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		switch {
		case err == nil && !fi.IsDir():
			return fmt.Errorf("cannot create %s: %s is not a directory", path, dir)
		case err == nil:
			if err := syscall.Access(dir, 0o3); err != nil { // W_OK|X_OK
				return fmt.Errorf("cannot create %s: directory %s: %w", path, dir, err)
			}
			return nil
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("cannot create %s: %w", path, err)
		}
		if dir == filepath.Dir(dir) {
			return nil
		}
	}
}
