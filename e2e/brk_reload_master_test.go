package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A SIGHUP that changes harakiri and min_processes reaches the master as
// well as the workers it starts: the master's harakiri backstop kills at
// the new limit, not the start's (a request the new workers let run was
// killed at the old harakiri + 3 s, 502), and a raised min_processes starts
// the workers it asks for (the reload said "reloaded" and cheaper mode
// kept the old floor).
func TestBrkReloadGivesTheMasterItsNewSettings(t *testing.T) {
	cfg := workersConfig("  min_processes: 1\n  harakiri: 200ms\n")
	dir := writeConfig(t, cfg)
	p := start(t, dir, "up")
	url := p.url()         // announced: the stats socket is there
	workersPIDs(t, dir, 1) // cheaper mode starts one
	path := filepath.Join(dir, "stack.yaml")
	next := strings.NewReplacer("min_processes: 1", "min_processes: 2", "harakiri: 200ms", "harakiri: 30s").Replace(cfg)
	if err := os.WriteFile(path, []byte(next), 0o644); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, p, "reloaded tier=appserver", 10*time.Second)
	workersPIDs(t, dir, 2) // the raised floor, with no load to make cheaper mode add one

	// Past 200ms + the worker's grace (2s) + 1s, the old backstop's limit.
	t0 := time.Now()
	code, _, body := get(t, url+"delay/4.5")
	if code != 200 || strings.Contains(p.Output(), "did not end an overdue request") {
		t.Errorf("GET /delay/4.5 after harakiri went to 30s: %d after %v %q\n%s", code, time.Since(t0), body, p.Output())
	}
}
