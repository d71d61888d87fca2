package cli

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/supervisor"
)

// A SIGHUP while `cp new.yaml stack.yaml` ran read the file truncated,
// empty, and loaded the built-in defaults (refused only when they did not
// validate). A reload refuses a blank file, unless the stack runs on one
// (started on an empty stack.yaml and STACK_* variables, as a start may).
func TestReloadRefusesABlankFileUnlessItRunsOnOne(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "stack.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := siteEnv(t, path)
	defer c.heldCfg.Close()
	r := &reloadSet{c: c, scope: "edge", sup: &supervisor.Supervisor{}}
	applied := 0
	r.add("edge", func(*config.File) error { applied++; return nil })
	startOn := func(s string) {
		write(s)
		f, err := c.loadFor("edge")
		if err != nil {
			t.Fatal(err)
		}
		r.current.Store(f)
	}

	startOn("run_dir: " + dir + "\nedge: {listen: [\"127.0.0.1:0\"]}\n")
	for _, blank := range []string{"", "\n  \n"} {
		write(blank)
		if err := r.reload(); !errors.Is(err, config.ErrBlank) || applied != 0 {
			t.Errorf("reload of %q: %v (applied %d times), want it refused as blank", blank, err, applied)
		}
	}
	t.Setenv("STACK_RUN_DIR", dir)
	t.Setenv("STACK_EDGE_LISTEN", "127.0.0.1:0")
	startOn("")
	if err := r.reload(); err != nil || applied != 1 {
		t.Errorf("running on a blank file, a reload of it: %v (applied %d times)", err, applied)
	}
}

// siteEnv is a command's environment for --config path, with the site
// app built in, logging at info into the buffer it returns.
func siteEnv(t *testing.T, path string) (*cmdEnv, *bytes.Buffer) {
	t.Helper()
	reg, err := newRegistry([]App{siteApp()})
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	return &cmdEnv{apps: reg, stderr: logs, cfgPath: path, logLevel: "info", logger: slog.New(newLogHandler(logs, "text", slog.LevelInfo))}, logs
}
