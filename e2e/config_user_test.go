package e2e

import (
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// userPollsDir writes a configuration serving polls from workers run as
// nobody, with apps.polls set to settings, and copies the binary beside
// it where nobody can run it. It returns the folder and the binary.
func userPollsDir(t *testing.T, settings string) (dir, bin string) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root") // the test machine runs as root
	}
	tpl := "  user: nobody\n  group: nogroup\n  app: polls\napps:\n  polls:\n    debug: true\n" + settings
	dir = writeConfig(t, strings.Replace(workersConfig(tpl), "  app: echo\n", "", 1))
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	data, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(dir, "stack")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, bin
}

// workersData makes dir/data, the workers' folder for the polls
// database (data/polls.sqlite3): run_dir, polls' default, is the master's.
func workersData(t *testing.T, dir string) string {
	t.Helper()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(data, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	return data
}

// runIn runs the binary in dir with args and returns its output and exit
// status.
func runIn(t *testing.T, dir, bin string, args ...string) (string, int) {
	t.Helper()
	return runInWith(t, dir, bin, nil, "", args...)
}

// runInWith is runIn with env added to the clean environment and stdin
// as the standard input (a pipe: the user commands read their answers
// line by line).
func runInWith(t *testing.T, dir, bin string, env []string, stdin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env, cmd.Stdin = dir, append(append(cleanEnv(), quickExit()), env...), strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// With appserver.user, the workers read the app's template folders as
// that user: `stack check`, run as root, must refuse a folder only root
// can read, which would otherwise pass check and fail `up` at the
// workers' start.
func TestCheckReadsTemplateDirsAsTheWorkersUser(t *testing.T) {
	dir, bin := userPollsDir(t, "    template_dirs: [pages]\n    database: data/polls.sqlite3\n")
	workersData(t, dir)
	pages := filepath.Join(dir, "pages")
	if err := os.Mkdir(pages, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pages, "base.html"), []byte("<p>{{block \"content\" .}}{{end}}</p>"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := runIn(t, dir, bin, "check")
	if want := "appserver.user: the workers read apps.polls's pages at start"; code != 1 || !strings.Contains(out, want) || !strings.Contains(out, "is not readable by uid 65534") {
		t.Errorf("root-only template folder: exit %d, want 1 with %q:\n%s", code, want, out)
	}
	os.Chmod(pages, 0o755)
	if out, code := runIn(t, dir, bin, "check"); code != 0 {
		t.Errorf("readable template folder: exit %d:\n%s", code, out)
	}
}

// The uWSGI classic: a database made by root (a migrate run before
// appserver.user was set, another tool), which the workers, run as
// nobody, cannot write (up crash-looped them on "permission denied" while
// check said valid). Check must refuse it, naming the setting, and pass
// once it is theirs.
func TestCheckWritesTheDatabaseAsTheWorkersUser(t *testing.T) {
	dir, bin := userPollsDir(t, "    database: data/polls.sqlite3\n")
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "polls.sqlite3"), nil, 0o644); err != nil { // an empty file is an empty SQLite database
		t.Fatal(err)
	}
	out, code := runIn(t, dir, bin, "check")
	if want := "appserver.user: the workers write apps.polls.database: data/polls.sqlite3 (mode 0644, owner 0:0) is not readable and writable by uid 65534"; code != 1 || !strings.Contains(out, want) {
		t.Errorf("root's database: exit %d, want 1 with %q:\n%s", code, want, out)
	}
	for _, p := range []string{data, filepath.Join(data, "polls.sqlite3")} {
		if err := os.Chown(p, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	if out, code := runIn(t, dir, bin, "check"); code != 0 {
		t.Errorf("the workers' database: exit %d:\n%s", code, out)
	}
}

// With no apps.polls.database, polls' database is run_dir/polls.sqlite3,
// and run_dir is made 0700 for root by `up`: the workers, run as nobody,
// could not create it (the release failed "unable to open database file",
// or with release: [] the workers crash-looped) while check said valid.
// Check must refuse it and say where to put the database instead.
func TestCheckRefusesTheDefaultDatabaseInRunDirForTheWorkersUser(t *testing.T) {
	dir, bin := userPollsDir(t, "")
	out, code := runIn(t, dir, bin, "check")
	for _, want := range []string{
		"appserver.user: the workers write apps.polls.database (run/polls.sqlite3, in run_dir): run_dir run is made at start with mode 0700, for uid 0 only",
		"set apps.polls.database to a file in a folder of the workers' own (e.g. install -d -o nobody -g nogroup -m 0750 /var/lib/stack",
	} {
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("default database: exit %d, want 1 with %q:\n%s", code, want, out)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "run"), 0o700); err != nil { // as a first `up` leaves it
		t.Fatal(err)
	}
	if out, code := runIn(t, dir, bin, "check"); code != 1 || !strings.Contains(out, "run (mode 0700, owner 0:0) is not writable and searchable by uid 65534") {
		t.Errorf("default database in root's run_dir: exit %d, want 1:\n%s", code, out)
	}
}

// `stack migrate` run by hand as root made the database root's, and then
// the workers (appserver.user: nobody) could not write it. It now runs as
// up's release does, with the workers' credential: the database and its
// journal files are nobody's, and check passes. Where they cannot write
// (polls' default, in root's run_dir), it fails saying so.
func TestMigrateByHandRunsAsTheWorkersUser(t *testing.T) {
	dir, bin := userPollsDir(t, "    database: data/polls.sqlite3\n")
	data := workersData(t, dir)
	out, code := runIn(t, dir, bin, "migrate")
	if code != 0 || !strings.Contains(out, "Applying polls.0001_initial... OK") {
		t.Fatalf("migrate as root: exit %d, want 0 applying 0001_initial:\n%s", code, out)
	}
	files, _ := filepath.Glob(filepath.Join(data, "polls.sqlite3*"))
	if len(files) == 0 {
		t.Fatalf("no database in %s:\n%s", data, out)
	}
	for _, p := range files {
		if fi, err := os.Stat(p); err != nil || fi.Sys().(*syscall.Stat_t).Uid != 65534 {
			t.Errorf("%s: %v, want it owned by nobody (uid 65534)", p, err)
		}
	}
	if out, code := runIn(t, dir, bin, "check"); code != 0 {
		t.Errorf("check after migrate: exit %d:\n%s", code, out)
	}
	out, code = runIn(t, dir, bin, "migrate", "--set", "apps.polls.database=")
	if want := "appserver.user: the workers write apps.polls.database (run/polls.sqlite3, in run_dir)"; code != 1 || !strings.Contains(out, want) || !strings.Contains(out, "set apps.polls.database to a file") {
		t.Errorf("migrate of the default database: exit %d, want 1 with %q and the fix:\n%s", code, want, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "run", "polls.sqlite3")); err == nil {
		t.Errorf("migrate made run/polls.sqlite3 as root")
	}
}

// A database reached through a symbolic link in a folder of root's (an
// /etc-style name for the file in the workers' folder): SQLite follows
// the link and keeps its journal beside the file, in the workers' folder.
// Check refused it (root's folder not writable) and so did the
// migration's own settings check run as nobody; both looked beside the
// link. Migrate by hand, as root, must now run as nobody, and write
// through the link.
func TestMigrateThroughALinkInRootsFolder(t *testing.T) {
	dir, bin := userPollsDir(t, "    database: etc/polls.sqlite3\n")
	data := workersData(t, dir)
	if err := os.Mkdir(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../data/polls.sqlite3", filepath.Join(dir, "etc", "polls.sqlite3")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "polls.sqlite3"), nil, 0o644); err != nil { // an empty file is an empty SQLite database
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(data, "polls.sqlite3"), 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if out, code := runIn(t, dir, bin, "check"); code != 0 {
		t.Errorf("check: exit %d:\n%s", code, out)
	}
	out, code := runIn(t, dir, bin, "migrate")
	if code != 0 || !strings.Contains(out, "Applying polls.0001_initial... OK") {
		t.Errorf("migrate through the link: exit %d, want 0 applying 0001_initial:\n%s", code, out)
	}
}

// `stack migrate -c /dev/stdin` as root with appserver.user runs its
// child as nobody with the same --config, which read an empty stdin: it
// failed on the built-in defaults' settings (secret_key, allowed_hosts),
// then was refused ("reads /dev/stdin again"). The child now loads what
// the parent read, from an inherited descriptor: it migrates, as nobody.
func TestMigrateAsTheWorkersFromStdin(t *testing.T) {
	dir, bin := userPollsDir(t, "    database: data/polls.sqlite3\n")
	data := workersData(t, dir)
	yaml, err := os.ReadFile(filepath.Join(dir, "stack.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "migrate", "-c", "/dev/stdin")
	cmd.Dir, cmd.Env, cmd.Stdin = dir, cleanEnv(), strings.NewReader(string(yaml))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Applying polls.0001_initial... OK") {
		t.Fatalf("migrate from stdin as root: %v, want it applying 0001_initial:\n%s", err, out)
	}
	workersOwn(t, data, "migrate from stdin", string(out))
}

// workersOwn fails t unless every file of data/polls.sqlite3* is the
// workers' (nobody, uid 65534), and returns them.
func workersOwn(t *testing.T, data, after, out string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(data, "polls.sqlite3*"))
	for _, p := range files {
		if fi, err := os.Stat(p); err != nil || fi.Sys().(*syscall.Stat_t).Uid != 65534 {
			t.Errorf("after %s: %s: %v, want it owned by nobody (uid 65534), whose workers write it:\n%s", after, p, err, out)
		}
	}
	return files
}

// `stack createsuperuser` and `stack changepassword`, run by hand as
// root, opened the database as root: the first made it (and its
// journal) root's, and the workers (appserver.user: nobody) could no
// longer write it; `up` then refused it. They now run as migrate does,
// as a child with the workers' credential: the password, from
// STACK_SUPERUSER_PASSWORD or the piped answers, reaches it through its
// environment or its stdin, never its command line. The files are
// nobody's, check passes, and the workers log the superuser in.
func TestUserCommandsByHandRunAsTheWorkersUser(t *testing.T) {
	dir, bin := userPollsDir(t, "    database: data/polls.sqlite3\n")
	data := workersData(t, dir)
	out, code := runInWith(t, dir, bin, []string{"STACK_SUPERUSER_PASSWORD=users13-admin-pass"}, "", "createsuperuser", "--username", "admin", "--noinput")
	if code != 0 || !strings.Contains(out, "Superuser created successfully.") {
		t.Fatalf("createsuperuser as root: exit %d, want 0:\n%s", code, out)
	}
	if len(workersOwn(t, data, "createsuperuser", out)) == 0 {
		t.Fatalf("no database in %s:\n%s", data, out)
	}
	out, code = runInWith(t, dir, bin, nil, "users13-new-pass\nusers13-new-pass\n", "changepassword", "admin")
	if code != 0 || !strings.Contains(out, "Password changed successfully for user 'admin'") {
		t.Fatalf("changepassword as root: exit %d, want 0:\n%s", code, out)
	}
	workersOwn(t, data, "changepassword", out)
	if !strings.Contains(out, "changepassword: running as the workers' user") {
		t.Errorf("changepassword does not say it runs as the workers' user:\n%s", out)
	}
	if out, code := runIn(t, dir, bin, "check"); code != 0 {
		t.Fatalf("check after the user commands: exit %d:\n%s", code, out)
	}
	p := startBinary(t, dir, bin, "up")
	base := strings.TrimSuffix(p.url(), "/")
	c, tok := brkFwLoginForm(t, base)
	resp, err := c.PostForm(base+"/admin/login/", url.Values{"csrfmiddlewaretoken": {tok}, "username": {"admin"}, "password": {"users13-new-pass"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/admin/" {
		t.Errorf("login with the new password through the workers: %d %q, want 302 to /admin/", resp.StatusCode, resp.Header.Get("Location"))
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("up: exit %d after SIGTERM", code)
	}
	workersOwn(t, data, "up", p.Output())
}

// changepassword of a user not there yet, on a database not made yet
// (the workers' folder empty): it makes the database before it finds no
// such user, and made it root's. The child, which reads the database,
// says so before any prompt, as Django's changepassword does.
func TestChangepasswordByHandMakesTheWorkersDatabase(t *testing.T) {
	dir, bin := userPollsDir(t, "    database: data/polls.sqlite3\n")
	data := workersData(t, dir)
	out, code := runInWith(t, dir, bin, nil, "some-password-1\nsome-password-1\n", "changepassword", "--", "-ann")
	if code != 1 || !strings.Contains(out, "user '-ann' does not exist") {
		t.Fatalf("changepassword of nobody: exit %d, want 1 with user '-ann' does not exist:\n%s", code, out)
	}
	if strings.Contains(out, "Password") {
		t.Errorf("the child run as the workers prompted before it looked the user up:\n%s", out)
	}
	if strings.Contains(out, "stack check") {
		t.Errorf("a failure the child explained sends the user to stack check, as if the workers could not read or write:\n%s", out)
	}
	if len(workersOwn(t, data, "changepassword", out)) == 0 {
		t.Fatalf("no database in %s:\n%s", data, out)
	}
}
