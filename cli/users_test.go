package cli

import (
	"bytes"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/stack-web/stack/framework/auth"
)

// The user commands (cli/internal/usercmd, tested there) open the served
// app's accounts in its run_dir, with its settings; an app without
// accounts is named.
func TestUserCommandsOpenTheServedAppsAccounts(t *testing.T) {
	dir := t.TempDir()
	a := siteApp()
	a.Users = func(env Env) (Users, io.Closer, error) {
		db, err := sql.Open("sqlite", filepath.Join(env.RunDir, "users.db"))
		if err != nil {
			return nil, nil, err
		}
		users, err := auth.New(db, auth.Options{Hasher: &auth.Hasher{Time: 1, Memory: 1024, Threads: 1}})
		if err != nil {
			db.Close()
			return nil, nil, err
		}
		return users, db, nil
	}
	cfg := filepath.Join(dir, "stack.yaml")
	yaml := "run_dir: " + dir + "\nappserver: {app: site}\napps:\n  site: {debug: true}\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("STACK_SUPERUSER_PASSWORD", "admin-password-1")
	var out, errb bytes.Buffer
	if code := run([]string{"createsuperuser", "--username", "admin", "--noinput", "-c", cfg}, strings.NewReader(""), &out, &errb, a); code != 0 || !strings.Contains(out.String(), "Superuser created successfully.") {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "users.db")); err != nil {
		t.Errorf("the accounts are not in run_dir: %v", err)
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"changepassword", "admin", "-c", cfg}, strings.NewReader("pw-2-password\npw-2-password\n"), &out, &errb, siteApp()); code != 1 || !strings.Contains(errb.String(), `app "site" has no user accounts`) {
		t.Errorf("an app without accounts: exit %d\n%s%s", code, out.String(), errb.String())
	}
}
