package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stack-web/stack/appserver"
	"github.com/stack-web/stack/framework"
)

// loadWorkersPolls writes to path a configuration serving polls from
// worker processes, with setting (one YAML line) in apps.polls, and loads
// it with apps.
func loadWorkersPolls(t *testing.T, path, setting string, apps map[string]func() any) *File {
	t.Helper()
	yaml := "mode: inprocess\nappserver:\n  app: polls\n  processes: 2\napps:\n  polls:\n    " + setting + "\n"
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Load(Options{Path: path, Apps: apps})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// wantRefusal checks a worker check's err for case what: none when want
// is "", else one containing want and naming key.
func wantRefusal(t *testing.T, what string, err error, want, key string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: %v", what, err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), key)):
		t.Errorf("%s: got %v, want an error containing %q naming %s", what, err, want, key)
	}
}

// readingSettings is an app's settings that name folders read at start,
// as framework.Settings does with its template_dirs.
type readingSettings struct {
	TemplateDirs []string `yaml:"template_dirs"`
}

func (s *readingSettings) ReadAtStart() []string { return s.TemplateDirs }

// A template folder only root can read passes as root, but the workers
// run as appserver.user: check must say so before `up` starts them.
func TestCheckWorkerUserReadsTheAppsFoldersAsTheWorkers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("switching users needs root (the test machine runs as root)")
	}
	base := t.TempDir()
	os.Chmod(base, 0o755)
	os.Chmod(filepath.Dir(base), 0o755) // the workers reach the configuration file too
	open := filepath.Join(base, "open")
	closed := filepath.Join(base, "closed")
	hidden := filepath.Join(base, "hidden")
	for _, d := range []string{open, closed, hidden} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "page.html"), []byte("hi"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(closed, 0o700)                             // the folder itself
	os.Chmod(filepath.Join(hidden, "page.html"), 0o600) // one file in it
	nobody, err := appserver.LookupCredential("nobody", "nogroup")
	if err != nil {
		t.Fatal(err)
	}
	apps := map[string]func() any{"polls": func() any { return &readingSettings{} }}
	for _, tc := range []struct {
		dir  string
		want string // "" = no complaint
	}{
		{open, ""},
		{closed, "closed (mode 0700, owner 0:0) is not readable by uid 65534"},
		{hidden, "page.html (mode 0600, owner 0:0) is not readable by uid 65534"},
	} {
		f := loadWorkersPolls(t, filepath.Join(base, filepath.Base(tc.dir)+".yaml"), "template_dirs: ["+tc.dir+"]", apps)
		wantRefusal(t, tc.dir, f.checkAppReadsAs(nobody), tc.want, "apps.polls")
	}
}

// asNobody skips a test not run as root, else returns the workers'
// credential (nobody) and a folder they can reach.
func asNobody(t *testing.T) (*syscall.Credential, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("switching users needs root (the test machine runs as root)")
	}
	nobody, err := appserver.LookupCredential("nobody", "nogroup")
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	os.Chmod(base, 0o755)
	os.Chmod(filepath.Dir(base), 0o755)
	return nobody, base
}

// pollsSettings are polls' settings (framework.Settings with its default
// database in run_dir), in debug so that no secret key is needed.
func pollsSettings() any {
	s := framework.DefaultSettings()
	s.Name, s.Debug, s.DefaultDatabase = "polls", true, "polls.sqlite3"
	return &s
}

// A SQLite database (or its folder) made by root passes as root, but the
// workers run as appserver.user and write it and its journal beside it:
// check must say so, or `up` crash-loops the workers.
func TestCheckWorkerUserWritesTheDatabaseAsTheWorkers(t *testing.T) {
	nobody, base := asNobody(t)
	// mk makes a folder (when name ends in /) or an empty 0644 file in
	// base, owned by the workers or by root, and returns its path.
	mk := func(name string, workers bool) string {
		p := filepath.Join(base, name)
		var err error
		if strings.HasSuffix(name, "/") {
			err = os.Mkdir(p, 0o755)
		} else {
			err = os.WriteFile(p, nil, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
		if workers {
			os.Chown(p, int(nobody.Uid), int(nobody.Gid))
		}
		return p
	}
	const theirs, roots = true, false
	mk("theirs/", theirs)
	mk("theirs/db", theirs)
	mk("new/", theirs)
	mk("rootfile/", theirs)
	mk("rootfile/db", roots) // `stack migrate` run by hand, as root
	mk("rootdir/", roots)
	mk("rootdir/db", theirs)
	mk("rootdirnew/", roots)
	mk("rootwal/", theirs)
	mk("rootwal/db", theirs)
	mk("rootwal/db-wal", roots) // left by a root process
	// SQLite follows a link to the database and writes its journal
	// beside the target: a link in root's folder to their file works, a
	// link in their folder to a file in root's, or one they cannot
	// reach, does not (check said the opposite of both).
	mk("closed/", roots)
	mk("closed/db", theirs)
	os.Chmod(filepath.Join(base, "closed"), 0o700)
	mk("rootlinks/", roots)
	for link, target := range map[string]string{"rootlinks/db": "../theirs/db", "theirs/todir": "../rootdir/db", "theirs/toclosed": "../closed/db"} {
		if err := os.Symlink(target, filepath.Join(base, link)); err != nil {
			t.Fatal(err)
		}
	}
	apps := map[string]func() any{"polls": pollsSettings}
	for _, tc := range []struct {
		db   string
		want string // "" = no complaint
	}{
		{"theirs/db", ""},
		{"new/db", ""},     // created by the app
		{"new/a/b/db", ""}, // with its folders
		{"rootfile/db", "rootfile/db (mode 0644, owner 0:0) is not readable and writable by uid 65534"},
		{"rootdir/db", "rootdir (mode 0755, owner 0:0) is not writable and searchable by uid 65534"},
		{"rootdirnew/a/db", "cannot create"},
		{"rootwal/db", "db-wal (mode 0644, owner 0:0) is not readable and writable by uid 65534"},
		{"rootlinks/db", ""},
		{"theirs/todir", "rootdir (mode 0755, owner 0:0) is not writable and searchable by uid 65534 gid 65534 (the journal files are created beside db, which"},
		{"theirs/toclosed", "closed (mode 0700, owner 0:0) is not executable or searchable by uid 65534"},
	} {
		f := loadWorkersPolls(t, filepath.Join(base, "stack.yaml"), "database: "+filepath.Join(base, tc.db), apps)
		wantRefusal(t, tc.db, f.CheckAppWritesAs(nobody), tc.want, "apps.polls.database")
	}
}

// With no apps.polls.database, polls writes run_dir/polls.sqlite3, and
// run_dir is the master's: made 0700 by `up`, it holds the control and
// app sockets. The workers cannot create the database there (up
// crash-looped them on "unable to open database file" while check said
// valid): check must say so and say where to put it instead, unless
// run_dir was given to the workers' user.
func TestCheckWorkerUserWritesTheDefaultDatabaseInRunDir(t *testing.T) {
	nobody, base := asNobody(t)
	for _, d := range []string{"roots", "theirs"} {
		if err := os.Mkdir(filepath.Join(base, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	os.Chown(filepath.Join(base, "theirs"), int(nobody.Uid), int(nobody.Gid))
	f := loadWorkersPolls(t, filepath.Join(base, "stack.yaml"), "debug: true", map[string]func() any{"polls": pollsSettings})
	f.Appserver.User, f.Appserver.Group = "nobody", "nogroup" // for the fix's install line
	const fix = "set apps.polls.database to a file in a folder of the workers' own (e.g. install -d -o nobody -g nogroup -m 0750 /var/lib/stack, then database: /var/lib/stack/polls.sqlite3)"
	for _, tc := range []struct {
		runDir string
		want   string // "" = no complaint
	}{
		{"missing", "missing is made at start with mode 0700, for uid 0 only; run_dir stays the master's"},
		{"roots", "roots (mode 0700, owner 0:0) is not writable and searchable by uid 65534"},
		{"theirs", ""},
	} {
		f.RunDir = filepath.Join(base, tc.runDir)
		err := f.CheckAppWritesAs(nobody)
		wantRefusal(t, tc.runDir, err, tc.want, "apps.polls.database ("+filepath.Join(f.RunDir, "polls.sqlite3")+", in run_dir)")
		if tc.want != "" && err != nil && !strings.Contains(err.Error(), fix) {
			t.Errorf("%s: %v\nwant the fix: %s", tc.runDir, err, fix)
		}
	}
}

// appserver.group without user leaves the workers uid 0, which the kernel
// lets read and write whatever the bits say: check refused a database in
// a folder of the group's user (0750, nobody's) that they wrote fine. To
// run a file, root still needs one of its execute bits.
func TestCheckWorkerGroupOnlyIsRoot(t *testing.T) {
	nobody, base := asNobody(t)
	groupOnly := &syscall.Credential{Uid: 0, Gid: nobody.Gid}
	data := filepath.Join(base, "data")
	if err := os.Mkdir(data, 0o750); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(data, "polls.sqlite3")
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{data, db} {
		os.Chown(p, int(nobody.Uid), int(nobody.Gid))
	}
	f := loadWorkersPolls(t, filepath.Join(base, "stack.yaml"), "database: "+db, map[string]func() any{"polls": pollsSettings})
	wantRefusal(t, "group only", f.CheckAppWritesAs(groupOnly), "", "")
	other := &syscall.Credential{Uid: 1, Gid: nobody.Gid} // the same group, by its bits
	wantRefusal(t, "uid 1", f.CheckAppWritesAs(other), "is not readable and writable by uid 1", "apps.polls.database")
	wantRefusal(t, "root runs a 0644 file", credHas(groupOnly, db, 0o1), "is not executable or searchable by uid 0", db)
	os.Chmod(db, 0o700)
	wantRefusal(t, "root runs a 0700 file", credHas(groupOnly, db, 0o1), "", "")
}
