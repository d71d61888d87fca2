package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startupEarlyCopy copies the stack binary into a directory of the test's
// own, so that its processes (the master and every worker, early ones
// included) are told from any other test's by /proc/PID/exe.
func startupEarlyCopy(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(t.TempDir(), "stack")
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

// startupEarlyProcs returns the running processes of exe, and the
// children of parent (zombies included: a child nobody reaped).
func startupEarlyProcs(exe string, parent int) (running []int, children []int) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && l == exe {
			running = append(running, pid)
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, not ')'.
		if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) > 1 {
			if ppid, _ := strconv.Atoi(f[1]); ppid == parent {
				children = append(children, pid)
			}
		}
	}
	return running, children
}

// startupEarlyWait polls until cond holds on the processes of exe (and
// the children of parent), for up to 10 s, and returns what it saw last.
func startupEarlyWait(exe string, parent int, cond func(running, children []int) bool) (running, children []int, ok bool) {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		running, children = startupEarlyProcs(exe, parent)
		if cond(running, children) {
			return running, children, true
		}
		if time.Now().After(deadline) {
			return running, children, false
		}
	}
}

// `stack up` starts its first worker process during its package init
// (internal/earlyworker), before it has read its configuration. That
// process must never outlive what it was started for: adopted as worker
// 1 with worker processes (and gone with the stack), dropped and reaped
// without them, gone when the configuration is refused.
func TestStartupEarlyWorkerIsAdoptedOrDropped(t *testing.T) {
	exe := startupEarlyCopy(t)
	for _, c := range []struct {
		name      string
		config    string
		processes int // besides the master
		children  int // the master's
	}{
		{"two worker processes", "appserver: {app: hello, processes: 2}", 2, 2},
		{"no worker processes", "appserver: {app: hello, processes: 0}", 0, 0},
		// The master drops its early worker; the appserver child (a
		// `stack appserver`) adopts one of its own.
		{"subprocess mode", "mode: subprocess\nappserver: {app: hello, processes: 2}", 4, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			port := freePort(t)
			dir := writeConfig(t, fmt.Sprintf("edge:\n  listen: [\"127.0.0.1:%d\"]\n%s\n", port, c.config))
			cmd := exec.Command(exe, "up")
			cmd.Dir, cmd.Env = dir, cleanEnv()
			p := startCmd(t, cmd, "stack up", nil)
			url := p.url()
			// In subprocess mode the edge child may announce itself before
			// the appserver child listens (502 until then).
			code := 0
			for deadline := time.Now().Add(10 * time.Second); code != 200 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if resp, err := http.Get(url); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
			}
			if code != 200 {
				t.Errorf("GET %s: %d, want 200 within 10s", url, code)
			}
			master := cmd.Process.Pid
			// The master and its workers; no early process left over, no
			// zombie (a dropped one is reaped).
			running, children, ok := startupEarlyWait(exe, master, func(running, children []int) bool {
				return len(running) == 1+c.processes && len(children) == c.children
			})
			if !ok {
				t.Errorf("processes of the binary: %v, children of the master %d: %v; want the master, %d more, %d its children\n%s",
					running, master, children, c.processes, c.children, p.Output())
			}
			if code := p.stop(syscall.SIGTERM); code != 0 {
				t.Errorf("exit %d after SIGTERM", code)
			}
			if running, _, ok := startupEarlyWait(exe, master, func(running, _ []int) bool { return len(running) == 0 }); !ok {
				t.Errorf("processes of the binary left after the stack stopped: %v", running)
			}
		})
	}
	t.Run("refused configuration", func(t *testing.T) {
		dir := writeConfig(t, "appserver: {app: hello, processes: 2, no_such_key: 1}\n")
		cmd := exec.Command(exe, "up")
		cmd.Dir, cmd.Env = dir, cleanEnv()
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "no_such_key") {
			t.Fatalf("up with an unknown key: %v\n%s", err, out)
		}
		if running, _, ok := startupEarlyWait(exe, cmd.Process.Pid, func(running, _ []int) bool { return len(running) == 0 }); !ok {
			t.Errorf("processes of the binary left after up refused its configuration: %v", running)
		}
	})
}
