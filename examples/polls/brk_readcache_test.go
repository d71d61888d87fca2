package polls

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// shmLocks lists the fcntl locks this process holds on dbPath's -shm file,
// as /proc/locks shows them ("READ 128 128": SQLite's DMS lock).
func shmLocks(t *testing.T, dbPath string) []string {
	t.Helper()
	fi, err := os.Stat(dbPath + "-shm")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/locks")
	if err != nil {
		t.Fatal(err)
	}
	ino, pid := fmt.Sprintf(":%d", fi.Sys().(*syscall.Stat_t).Ino), fmt.Sprint(os.Getpid())
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 8 && f[4] == pid && strings.HasSuffix(f[5], ino) {
			out = append(out, strings.Join(f[3:], " ")+" "+f[6]+"-"+f[7])
		}
	}
	return out
}

// The read cache's descriptor of the -shm file must not drop the locks
// SQLite's connections hold on it: closing it did (fcntl locks belong to
// the process, and any close drops them all), and a sqlite3 shell opened
// beside the running workers then found the file unused, truncated and
// rebuilt it: votes and reads failed with "disk I/O error (8714)"
// (SQLITE_IOERR_SHMSIZE).
func TestBrkReadCacheKeepsSQLitesShmLocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite3")
	a := newTestApp(t, path)
	if a.store.cache == nil {
		t.Fatal("no read cache on a SQLite database in WAL mode")
	}
	dms := func() bool {
		for _, l := range shmLocks(t, path) {
			if strings.Contains(l, "READ") && strings.HasSuffix(l, " 128-128") {
				return true
			}
		}
		return false
	}
	if !dms() {
		t.Fatalf("after the app opened, this process holds no DMS lock on the -shm file: %q", shmLocks(t, path))
	}
	if _, err := a.store.latestQuestions(t.Context(), 5, time.Now()); err != nil {
		t.Fatal(err)
	}
	if !dms() {
		t.Fatalf("after a read, this process holds no DMS lock on the -shm file: %q", shmLocks(t, path))
	}
}

// SQLite resolves a symbolic link to the database and keeps the -shm file
// beside the file linked to. The cache mapped the "-shm" beside the link:
// none (no cache), or a file left there by an earlier run (killed before
// it could remove it, then the database moved and linked), whose header
// never changes: a vote was missing from the page read after it in the
// same second.
func TestBrkReadCacheSymlinkedDatabase(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.sqlite3")
	newTestApp(t, old)
	shm, err := os.ReadFile(old + "-shm")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "polls.sqlite3")
	if err := os.Symlink(filepath.Join(dir, "data", "polls.sqlite3"), link); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(link+"-shm", shm, 0o600); err != nil { // the earlier run's
		t.Fatal(err)
	}
	a := newTestApp(t, link)
	if a.store.cache == nil {
		t.Error("no read cache on a linked database in WAL mode")
	}
	ctx, now := t.Context(), time.Now()
	for i := range 3 {
		q, err := a.store.questionWithChoices(ctx, 1, now)
		if err != nil {
			t.Fatal(err)
		}
		if q.Choices[0].Votes != i {
			t.Fatalf("after %d votes, the page shows %d", i, q.Choices[0].Votes)
		}
		if err := a.store.vote(ctx, 1, q.Choices[0].ID); err != nil {
			t.Fatal(err)
		}
	}
}

// The database's path went into SQLite's URI as it was: a '#' or '?' cut
// it short, a %XX was decoded and a leading "//" named a host, so another file was opened than the one
// configured (cut at a '?', also without WAL and the busy timeout, and
// without the read cache, which looked for the configured path's -shm).
func TestBrkSQLitePathWithURICharacters(t *testing.T) {
	for _, name := range []string{"a#b.sqlite3", "a?b.sqlite3", "a%41b.sqlite3", "//"} {
		dir := t.TempDir()
		path := filepath.Join(dir, name)
		if name == "//" { // a path starting with two slashes was taken for a URI's authority
			path = "/" + filepath.Join(dir, "db.sqlite3")
		}
		a := newTestApp(t, path)
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if _, err := os.Stat(path + suffix); err != nil {
				ents, _ := os.ReadDir(dir)
				t.Errorf("database %q: %v; the directory holds %v", name, err, ents)
			}
		}
		if a.store.cache == nil {
			t.Errorf("database %q: no read cache", name)
		}
	}
}
