package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stack-web/stack/internal/pgtest"
)

// polls on PostgreSQL through `stack up`: the pages come from the database,
// and its password appears nowhere the configuration is shown (`stack
// config`, `config --explain`, `check`, the admin's /config) nor in a log.
func TestHostsPollsOnPostgresRedactsThePassword(t *testing.T) {
	pg := pgtest.Start(t, pgtest.Options{})
	yaml := fmt.Sprintf(`
edge:
  listen: ["127.0.0.1:0"]
appserver:
  app: polls
apps:
  polls:
    debug: true
    database: %s
`, pg.URL)
	dir := writeConfig(t, yaml)
	for _, args := range [][]string{{"config"}, {"config", "--explain"}, {"check"}} {
		stdout, stderr, code := run(t, dir, args...)
		if code != 0 || strings.Contains(stdout+stderr, pg.Password) {
			t.Errorf("stack %s: exit %d, or the password printed:\n%s%s", strings.Join(args, " "), code, stdout, stderr)
		}
		if args[0] == "config" && !strings.Contains(stdout, "postgres://stack:***") {
			t.Errorf("stack %s shows no redacted database URL:\n%s", strings.Join(args, " "), stdout)
		}
	}

	a := adminUp(t, yaml)
	code, _, body := get(t, "http://"+a.edge+"/polls/")
	if code != 200 || !strings.Contains(body, "What") {
		t.Fatalf("GET /polls/ on PostgreSQL: %d\n%s", code, body)
	}
	code, _, cfg := adminGet(a.admin, "/config")
	if code != http.StatusOK || strings.Contains(cfg, pg.Password) || !strings.Contains(cfg, "postgres://stack:***") {
		t.Errorf("admin /config: %d\n%s", code, cfg)
	}
	if strings.Contains(a.p.Output(), pg.Password) {
		t.Errorf("the password is in the log:\n%s", a.p.Output())
	}

	// A server that cannot be reached: the error names it, without the
	// password.
	bad := writeConfig(t, `
edge:
  listen: ["127.0.0.1:0"]
appserver:
  app: polls
apps:
  polls:
    debug: true
    database: postgres://stack:n0t-for-logs@127.0.0.1:1/polls?connect_timeout=2
`)
	stdout, stderr, code := run(t, bad, "up")
	if code == 0 || strings.Contains(stdout+stderr, "n0t-for-logs") || !strings.Contains(stdout+stderr, "127.0.0.1:1") {
		t.Errorf("up with an unreachable database: exit %d\n%s%s", code, stdout, stderr)
	}
}
