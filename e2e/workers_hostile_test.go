package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Tests from a hostile user's and a harsh operator's attempts to break the
// worker processes.

// hostileDeployable starts `stack up` from a copy of the binary under dir,
// which deploy replaces (as a rebuilt binary would be).
func hostileDeployable(t *testing.T, cfg string) (p *proc, dir string, deploy func([]byte)) {
	t.Helper()
	dir = writeConfig(t, cfg)
	bin := filepath.Join(dir, "stack")
	good, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	deploy = func(data []byte) {
		tmp := bin + ".new"
		if err := os.WriteFile(tmp, data, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, bin); err != nil {
			t.Fatal(err)
		}
	}
	deploy(good)
	p = startBinary(t, dir, bin, "up")
	p.url()
	workersPIDs(t, dir, 2)
	return p, dir, deploy
}

// SIGTERM while a chain reload waits for a new worker that hangs at boot:
// the stack stops within shutdown_timeout, not after worker_ready_timeout
// (the reload must not hold the signals back), and nothing is left.
func TestWorkersSIGTERMDuringAHangingReload(t *testing.T) {
	cfg := strings.Replace(workersConfig("  worker_ready_timeout: 60s\n"), "shutdown_timeout: 5s", "shutdown_timeout: 2s", 1)
	p, dir, deploy := hostileDeployable(t, cfg)
	deploy([]byte("#!/bin/sh\nexec sleep 120\n"))
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, p, "chain reload: replacing", 5*time.Second)
	time.Sleep(300 * time.Millisecond) // the hanging worker is started
	began := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("stack still running 15s after SIGTERM during a reload (worker_ready_timeout 60s):\n%s", p.Output())
	}
	t.Logf("SIGTERM during a hanging reload: exited after %v", time.Since(began).Round(time.Millisecond))
	if p.err != nil {
		t.Errorf("exit: %v, want status 0", p.err)
	}
	if _, err := os.Stat(filepath.Join(dir, "run", "app.sock")); err == nil {
		t.Errorf("the socket file is left after SIGTERM")
	}
}
