package polls

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stack-web/stack/internal/pgtest"
)

func TestDisplayNameRedactsThePassword(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://stack:s3cret@10.77.0.1:5432/polls?sslmode=disable": "postgres://stack:xxxxx@10.77.0.1:5432/polls?sslmode=disable",
		"postgresql://stack@db/polls":                                  "postgresql://stack@db/polls",
		"postgres://stack:%zz@db/polls":                                "postgres://(an unparsable URL)",
		"run/polls.sqlite3":                                            "run/polls.sqlite3",
	} {
		if got := displayName(in); got != want {
			t.Errorf("displayName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBindNumbersPlaceholders(t *testing.T) {
	q := `UPDATE choice SET votes = votes + 1 WHERE id = ? AND question_id = ?`
	if got := postgresDialect.bind(q); got != `UPDATE choice SET votes = votes + 1 WHERE id = $1 AND question_id = $2` {
		t.Errorf("postgres: %s", got)
	}
	if got := sqliteDialect.bind(q); got != q {
		t.Errorf("sqlite: %s", got)
	}
}

// TestPostgresPolls runs polls on a real PostgreSQL server: two apps
// starting at once migrate and seed once (the advisory lock), a second
// migrate has nothing to do, and votes through both apps at once are all
// counted (the atomic UPDATE), with the password never printed.
func TestPostgresPolls(t *testing.T) {
	pg := pgtest.Start(t, pgtest.Options{})
	settings := DefaultSettings()
	settings.SecretKey = "test-secret-key-that-is-long-enough"
	settings.AllowedHosts = []string{"*"}
	settings.Database = pg.URL

	apps := make([]*App, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range apps {
		wg.Go(func() { apps[i], errs[i] = New(settings, t.TempDir(), slog.New(slog.DiscardHandler)) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("app %d: %v", i, err)
		}
		t.Cleanup(func() { apps[i].Close() })
	}
	db := apps[0].store.db
	var questions, version int
	db.QueryRow(`SELECT count(*) FROM question`).Scan(&questions)
	db.QueryRow(`SELECT version FROM polls_schema_version`).Scan(&version)
	if questions != len(sample) || version != len(migrations) {
		t.Fatalf("after two concurrent starts: %d questions (want %d), schema version %d (want %d)", questions, len(sample), version, len(migrations))
	}

	var out bytes.Buffer
	if err := Migrate(context.Background(), settings, t.TempDir(), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "No migrations to apply") || strings.Contains(out.String(), pg.Password) || !strings.Contains(out.String(), "xxxxx@") {
		t.Errorf("second migrate printed:\n%s", out.String())
	}

	// Votes through both apps at once.
	var servers []*httptest.Server
	for _, a := range apps {
		srv := httptest.NewServer(a)
		t.Cleanup(srv.Close)
		servers = append(servers, srv)
	}
	const clients, perClient = 16, 25
	var failed atomic.Int64
	for i := range clients {
		wg.Go(func() {
			c := newClient(t, servers[i%2])
			_, page := c.get("/polls/1/")
			token := csrfToken(t, page)
			for j := range perClient {
				resp, err := c.http.PostForm(c.base+"/polls/1/vote/", url.Values{"csrfmiddlewaretoken": {token}, "choice": {fmt.Sprint(1 + (i+j)%3)}})
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusFound {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	var total int
	if err := db.QueryRow(`SELECT sum(votes) FROM choice WHERE question_id = $1`, 1).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if failed.Load() != 0 || total != clients*perClient {
		t.Errorf("%d votes failed; counted %d, want %d", failed.Load(), total, clients*perClient)
	}

	// The pages read PostgreSQL too.
	c := newClient(t, servers[1])
	if code, page := c.get("/polls/1/results/"); code != 200 || !strings.Contains(page, "What&#39;s new?") && !strings.Contains(page, "What's new?") {
		t.Errorf("results page: %d\n%s", code, page)
	}
}

// libpq (and pgx) also take the password as a query parameter: `stack
// migrate` printed it, and `stack up` logged it, in the clear.
func TestDisplayNameRedactsAQueryPassword(t *testing.T) {
	in := "postgres://stack@127.0.0.1:5432/polls?sslmode=disable&password=p%40ss%3Aw%2Frd%3F%23"
	got := displayName(in)
	if strings.Contains(got, "p%40ss") || strings.Contains(got, "p@ss") || !strings.Contains(got, "password=xxxxx") ||
		!strings.Contains(got, "sslmode=disable") {
		t.Errorf("displayName(%q) = %q, want the password parameter replaced by xxxxx", in, got)
	}
}

// A server that accepts the connection but never answers (a host behind
// a firewall that drops, a wedged server) hung `stack migrate` and the
// workers' start for ever: pgx has no connect timeout unless the URL has
// connect_timeout. The first ping is bounded and its error says so.
func TestOpenPostgresGivesUpOnASilentServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close() // never accepted: the kernel completes the handshake, nobody answers
	done := make(chan error, 1)
	go func() {
		db, err := openPostgres("postgres://stack:pw@"+l.Addr().String()+"/polls?sslmode=disable", 300*time.Millisecond)
		if db != nil {
			db.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no answer within 300ms") || strings.Contains(err.Error(), ":pw@") {
			t.Errorf("openPostgres: %v, want an error saying the server did not answer", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("openPostgres still waiting for a server that never answers after 15s")
	}
}
