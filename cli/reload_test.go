package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/supervisor"
)

// With log_format: json, a refused reload is one JSON record like every
// other line on stderr: found by running the binary, a POST /reload of a
// bad file added `stack check`'s text lines to the JSON stream (and once
// per tier child in mode: subprocess).
func TestReloadRefusalInJSONModeIsOnlyJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stack.yaml")
	if err := os.WriteFile(path, []byte("log_format: json\nbogus_key: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	c := &cmdEnv{stderr: &stderr, cfgPath: path, logLevel: "info", logFormat: "json",
		logger: slog.New(newLogHandler(&stderr, "json", slog.LevelInfo))}
	r := &reloadSet{c: c, scope: "up"}
	r.add("edge", func(*config.File) error { t.Error("a refused configuration was applied"); return nil })
	err := r.reload()
	if err == nil || !strings.Contains(err.Error(), "bogus_key") {
		t.Fatalf("reload: %v, want the refusal naming bogus_key", err)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	for _, l := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Errorf("not a JSON line on stderr: %q", l)
		}
	}
	if !strings.Contains(stderr.String(), "bogus_key") {
		t.Errorf("the refusal's reason is not logged:\n%s", stderr.String())
	}
}

// A SIGHUP and a ^C together: the reload reached the edge after the stop
// had shut it down, and logged an ERROR ("reload failed ... edge: reload
// after shutdown"). A reload that finds a tier shut down, or the stop
// begun, is dropped at info and goes no further.
func TestReloadRacingTheStopIsDroppedQuietly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "stack.yaml")
	yaml := "run_dir: " + dir + "\nedge: {listen: [\"127.0.0.1:0\"]}\nappserver: {app: site}\napps:\n  site: {debug: true}\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, logs := siteEnv(t, path)
	f, err := c.loadFor("up")
	if err != nil {
		t.Fatal(err)
	}
	e, err := edge.New(edgeConfig(f), dir, c.logger)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Listen(); err != nil {
		t.Fatal(err)
	}
	e.Shutdown(context.Background()) // the stop, come first
	r := &reloadSet{c: c, scope: "up", sup: &supervisor.Supervisor{}}
	r.add("edge", func(f *config.File) error { return e.Reload(edgeConfig(f)) })
	r.add("appserver", func(*config.File) error { t.Error("the reload went on past a tier shut down"); return nil })
	if err := r.reload(); err == nil || !strings.Contains(err.Error(), "reload ignored: stopping") {
		t.Errorf("reload after the edge's shutdown: %v, want it ignored", err)
	}
	// Once the supervisor says it is stopping, no tier is even asked.
	r.stopping.Store(true)
	r.reloads[0].apply = func(*config.File) error { t.Error("a tier reloaded while stopping"); return nil }
	if err := r.reload(); err == nil || !strings.Contains(err.Error(), "reload ignored: stopping") {
		t.Errorf("reload while stopping: %v, want it ignored", err)
	}
	if out := logs.String(); strings.Contains(out, "level=ERROR") || strings.Count(out, "level=INFO msg=\"reload ignored: stopping\"") != 2 {
		t.Errorf("want two info lines \"reload ignored: stopping\" and no ERROR:\n%s", out)
	}
}
