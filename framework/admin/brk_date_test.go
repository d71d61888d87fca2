package admin

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/framework/auth"
)

// The list page shows a time as Django's admin does (DATETIME_FORMAT
// "N j, Y, P"): a morning is "a.m.", midnight and noon by name, and
// September "Sept.". A Go layout with a literal "p.m." printed "p.m."
// at every hour (break-it 15).
func TestChangeListShowsTimesAsDjango(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE event (id INTEGER PRIMARY KEY, name TEXT NOT NULL, at INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	times := []time.Time{
		time.Date(2026, 1, 2, 9, 5, 0, 0, time.Local),
		time.Date(2026, 9, 3, 0, 0, 0, 0, time.Local),
		time.Date(2026, 3, 4, 12, 0, 0, 0, time.Local),
		time.Date(2026, 5, 6, 23, 30, 0, 0, time.Local),
	}
	for i, at := range times {
		db.Exec(`INSERT INTO event (name, at) VALUES (?, ?)`, "e"+string(rune('a'+i)), at.Unix())
	}
	users, err := auth.New(db, auth.Options{Hasher: &auth.Hasher{Time: 1, Memory: 1024, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	users.CreateSuperuser(ctx, "root", "", "root-password")
	site := New(db, users, Options{})
	if err := site.Register(ctx, &Model{App: "cal", Name: "event", Str: "name", UnixTime: []string{"at"},
		ListDisplay: []string{"name", "at"}, Ordering: "id"}); err != nil {
		t.Fatal(err)
	}
	code, page := login(t, serveSite(t, site), "root", "root-password").get("/admin/cal/event/")
	if code != 200 {
		t.Fatalf("list: %d", code)
	}
	for _, want := range []string{"Jan. 2, 2026, 9:05 a.m.", "Sept. 3, 2026, midnight", "March 4, 2026, noon", "May 6, 2026, 11:30 p.m."} {
		if !strings.Contains(page, "<td>"+want+"</td>") {
			t.Errorf("no cell %q in the list:\n%s", want, page)
		}
	}
}
