package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// In mode: subprocess a SIGHUP in the first milliseconds of a tier child
// (a reload right after a start) reached the child before it handled
// SIGHUP: Go's default killed it, and the stack exited with "process edge
// exited during start-up: signal: hangup". The parent now holds a child's
// reload until the child says it handles SIGHUP.
func TestBrkSubprocessHangupWhileTheTiersStart(t *testing.T) {
	for i := range 2 {
		dir := writeConfig(t, configBase+"mode: subprocess\n")
		p := configStart(t, dir, nil, "up", "--log-level", "info")
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(p.output(), `msg="process started"`) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: no child started:\n%s", i, p.output())
			}
			time.Sleep(200 * time.Microsecond)
		}
		p.cmd.Process.Signal(syscall.SIGHUP) // the second child is starting, the first just exec'd
		addr := p.serving(30 * time.Second)
		if addr == "" {
			t.Fatalf("round %d: the stack did not survive a SIGHUP as its tiers started:\n%s", i, p.output())
		}
		if code, _, _ := get(t, addr); code != 200 {
			t.Fatalf("round %d: GET / = %d after the reload:\n%s", i, code, p.output())
		}
		if code := p.stopWith(syscall.SIGTERM); code != 0 {
			t.Fatalf("round %d: exit %d after SIGTERM:\n%s", i, code, p.output())
		}
	}
}
