package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// In subprocess mode the appserver child (`stack appserver`, started with
// the supervisor's STACK_SIGNAL_READY_FD=3) starts an early worker from its
// package init. That worker must run as a worker the child would have
// started: with the child's environment at adoption, not the one it had at
// init. With the init-time environment the worker took the signal-ready
// variable for itself, wrote to and closed its descriptor 3 (the /dev/null
// placeholder), received the master's socket at 3 and failed
// ("dup3: invalid argument"): worker 1 died before it was ready, every
// start, and was respawned after a crash-loop pause.
func TestBrk10EarlyWorkerInSubprocessModeServes(t *testing.T) {
	port := freePort(t)
	dir := writeConfig(t, fmt.Sprintf("mode: subprocess\nedge:\n  listen: [\"127.0.0.1:%d\"]\nappserver: {app: hello, processes: 2}\n", port))
	cmd := exec.Command(binary, "up")
	cmd.Dir, cmd.Env = dir, cleanEnv()
	p := startCmd(t, cmd, "stack up", nil)
	p.url()
	for deadline := time.Now().Add(10 * time.Second); strings.Count(p.Output(), "appserver: worker ready") < 2 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	out := p.Output()
	if strings.Count(out, "appserver: worker ready") < 2 {
		t.Errorf("two workers not ready within 10s:\n%s", out)
	}
	if strings.Contains(out, "worker died") || strings.Contains(out, "dup3") {
		t.Errorf("a worker died at start:\n%s", out)
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}
