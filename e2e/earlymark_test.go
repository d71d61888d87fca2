package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// STACK_EARLY_WORKER marks the early worker the master launches (package
// earlyworker); set by hand, or inherited by a program an app runs, it
// made every command wait for orders on a descriptor it did not have and
// exit 0 having done nothing: `stack version` printed nothing, `stack
// check` passed a broken file. Only the worker command reads it now.
func TestEarlyWorkerMarkSetByHandIsIgnored(t *testing.T) {
	const mark = "STACK_EARLY_WORKER=1"
	cmd := exec.Command(binary, "version")
	cmd.Env = append(cleanEnv(), mark)
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), "go1.") {
		t.Errorf("version with %s: %v %q", mark, err, out)
	}

	dir := writeConfig(t, "edge: {listen: [127.0.0.1:0], nonsense: 1}\n")
	cmd = exec.Command(binary, "check")
	cmd.Dir, cmd.Env = dir, append(cleanEnv(), mark)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "nonsense") {
		t.Errorf("check of a broken file with %s: %v %q; want exit 1 naming the bad key", mark, err, out)
	}

	// up still launches its workers (the mark is the master's to give).
	dir = writeConfig(t, helloConfig+"  processes: 2\n")
	cmd = exec.Command(binary, "up")
	cmd.Dir, cmd.Env = dir, append(cleanEnv(), mark)
	p := startCmd(t, cmd, "stack up", nil)
	if code, _, body := get(t, p.url()); code != 200 || body != "Hello, web!" {
		t.Errorf("up with %s: %d %q\n%s", mark, code, body, p.Output())
	}
}
