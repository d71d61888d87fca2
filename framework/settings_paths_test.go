package framework

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stack check called these valid; stack up then failed building the app
// ("templates: scan source 0: stat .: no such file or directory", "polls:
// opening ...: file is not a database", "database directory: mkdir ...:
// not a directory").
func TestValidateChecksTemplateDirsAndDatabasePaths(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("not a database, just text\n"), 0o600)
	db := filepath.Join(dir, "ok.sqlite3")
	os.WriteFile(db, append([]byte("SQLite format 3\x00"), make([]byte, 100)...), 0o600)
	empty := filepath.Join(dir, "empty.sqlite3")
	os.WriteFile(empty, nil, 0o600)

	for _, tc := range []struct {
		name string
		s    Settings
		want string // "" for valid
	}{
		{"missing template dir", Settings{TemplateDirs: []string{filepath.Join(dir, "nope")}}, "apps.polls.template_dirs[0]: stat "},
		{"template dir is a file", Settings{TemplateDirs: []string{file}}, "apps.polls.template_dirs[0]: " + file + " is not a directory"},
		{"template dir", Settings{TemplateDirs: []string{dir}}, ""},
		{"database is a directory", Settings{Database: dir}, "apps.polls.database: " + dir + " is a directory"},
		{"database is not SQLite", Settings{Database: file}, "apps.polls.database: " + file + " is not a SQLite database"},
		{"database under a file", Settings{Database: filepath.Join(file, "sub", "x.db")}, "apps.polls.database: "},
		{"new database in new folders", Settings{Database: filepath.Join(dir, "a", "b", "x.db")}, ""},
		{"existing database", Settings{Database: db}, ""},
		{"empty file becomes a database", Settings{Database: empty}, ""},
	} {
		tc.s.Name, tc.s.Debug = "polls", true
		err := tc.s.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// stack check called a template folder with a broken template valid, and
// stack up then refused to start ("templates: base.html:3: unexpected EOF").
// A call to a function only the app registers is not a syntax error.
func TestValidateParsesTheTemplatesInTemplateDirs(t *testing.T) {
	write := func(dir, name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	good := t.TempDir()
	write(good, "base.html", "<h1>{{block \"title\" .}}x{{end}}</h1>{{ my_app_func .X | upper }}")
	write(good, "polls/index.html", "{{extends \"base.html\"}}{{define \"title\"}}{{url \"polls:index\"}}{{end}}")
	write(good, "notes.md", "{{ not a template, not parsed")
	write(good, ".index.html.swp", "{{if")

	unclosed := t.TempDir()
	write(unclosed, "ok.html", "fine")
	write(unclosed, "sub/broken.html", "<p>\n{{if .X}}\nopen\n")
	lateExtends := t.TempDir()
	write(lateExtends, "page.html", "<p>text</p>{{extends \"base.html\"}}")
	strayEnd := t.TempDir()
	write(strayEnd, "page.txt", "{{end}}")

	for _, tc := range []struct {
		name string
		dirs []string
		want string
	}{
		{"good templates", []string{good}, ""},
		{"unclosed if", []string{good, unclosed}, "apps.polls.template_dirs[1]: templates: sub/broken.html"},
		{"extends not first", []string{lateExtends}, "apps.polls.template_dirs[0]: templates: page.html"},
		{"stray end", []string{strayEnd}, "apps.polls.template_dirs[0]: templates: page.txt:1"},
	} {
		s := Settings{Name: "polls", Debug: true, TemplateDirs: tc.dirs}
		err := s.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// WriteAtStart gives `stack check` the SQLite file the workers write, the
// app's default in run_dir included (polls' run/polls.sqlite3, which the
// check did not see), and nothing for a database that is no file: a
// PostgreSQL URL, a key=value string (refused; it may hold a password),
// or none for an app without a default.
func TestWriteAtStartNamesOnlyASQLiteFile(t *testing.T) {
	for _, tc := range []struct{ db, def, want string }{
		{"/srv/polls.sqlite3", "polls.sqlite3", "/srv/polls.sqlite3"},
		{"data/polls.sqlite3", "", "data/polls.sqlite3"},
		{"", "polls.sqlite3", "run/polls.sqlite3"},
		{"", "", ""},
		{"postgres://app:secret@db:5432/polls", "polls.sqlite3", ""},
		{"postgresql://db/polls", "", ""},
		{"host=db user=app password=secret", "", ""},
		{"Postgres://app:secret@db/polls", "polls.sqlite3", ""}, // refused; not a file
		{"mysql://app:secret@db/polls", "", ""},
		{"data/v2://polls.sqlite3", "", "data/v2://polls.sqlite3"}, // a folder named v2:
	} {
		got := Settings{Database: tc.db, DefaultDatabase: tc.def}.WriteAtStart("run")
		if got["database"] != tc.want || (tc.want == "") != (len(got) == 0) {
			t.Errorf("database %q, default %q: WriteAtStart(run) = %v, want %q", tc.db, tc.def, got, tc.want)
		}
	}
}
