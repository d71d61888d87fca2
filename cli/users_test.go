package cli

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	_ "modernc.org/sqlite"

	"github.com/stack-web/stack/cli/internal/usercmd"
	"github.com/stack-web/stack/config"
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

// Run as root with appserver.user, the user commands opened the database
// as root and made it root's, which the workers could not write. They now
// go the way `stack migrate` by hand does (asTheWorkers): first the check
// that the workers can write it, here a folder only root may enter, which
// refuses before anything is opened or made. (The switch itself, a child
// of this binary, is the e2e's TestUserCommandsByHandRunAsTheWorkersUser.)
func TestUserCommandsGoTheWorkersWay(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to switch to appserver.user")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "private", "site.sqlite3")
	if err := os.Mkdir(filepath.Dir(db), 0o700); err != nil {
		t.Fatal(err)
	}
	a := siteApp()
	a.Users = func(env Env) (Users, io.Closer, error) {
		return nil, nil, fmt.Errorf("the accounts were opened in this process, as uid %d", os.Geteuid())
	}
	cfg := filepath.Join(dir, "stack.yaml")
	yaml := "run_dir: " + dir + "\nappserver: {app: site, user: nobody, processes: 1}\napps:\n  site: {debug: true, database: " + db + "}\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("STACK_SUPERUSER_PASSWORD", "admin-password-1")
	for _, args := range [][]string{{"createsuperuser", "--username", "admin", "--noinput"}, {"changepassword", "admin"}} {
		var out, errb bytes.Buffer
		code := run(append(args, "-c", cfg), strings.NewReader("pw-2-password\npw-2-password\n"), &out, &errb, a)
		if want := "appserver.user: the workers write apps.site.database"; code != 1 || !strings.Contains(errb.String(), want) || !strings.Contains(errb.String(), "by uid 65534") {
			t.Errorf("%s: exit %d, want 1 with %q:\n%s%s", args[0], code, want, out.String(), errb.String())
		}
	}
	if _, err := os.Stat(db); err == nil {
		t.Errorf("%s was made", db)
	}
}

// The child, run as the workers, gets the flags given and the arguments
// after "--" (a username may start with "-"), and the configuration's
// flags before it; never a password, which is no flag.
func TestUserCommandsChildCommandLine(t *testing.T) {
	c := &cmdEnv{logLevel: "warn", cfgPath: "site.yaml", sets: []string{"apps.site.debug=true"}}
	var got [][]string
	e := &usercmd.Env{Open: func() (usercmd.Accounts, io.Closer, error) { return nil, nil, errors.New("not opened") }}
	for _, cmd := range []*cobra.Command{usercmd.CreatesuperuserCommand(e), usercmd.ChangepasswordCommand(e)} {
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			got = append(got, childCommandLine(cmd, args))
			return nil
		}
		root := &cobra.Command{Use: "stack"}
		root.AddCommand(cmd)
		root.SetArgs(map[string][]string{
			"createsuperuser": {"createsuperuser", "--username", "ann", "--noinput"},
			"changepassword":  {"changepassword", "--", "-ann"},
		}[cmd.Name()])
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
	}
	want := [][]string{{"stack", "createsuperuser", "--noinput=true", "--username=ann", "--"}, {"stack", "changepassword", "--", "-ann"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("child command lines %q, want %q", got, want)
	}
	cmd, err := c.childCommand(context.Background(), &config.File{}, got[1], nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if tail := cmd.Args[1:]; !reflect.DeepEqual(tail, []string{"changepassword", "--log-level", "warn", "--config", "site.yaml", "--set", "apps.site.debug=true", "--", "-ann"}) {
		t.Errorf("the child's arguments %q: the configuration's flags must come before \"--\"", tail)
	}
}
