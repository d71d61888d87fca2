package launch

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// Only the commands that run an appserver master start an early worker;
// flags and their values before the command are skipped, help is not a
// start.
func TestRunsFindsTheCommand(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"stack", "up"}, true},
		{[]string{"stack", "appserver", "--app", "hello"}, true},
		{[]string{"stack", "-c", "up", "edge"}, false}, // "up" is -c's value
		{[]string{"stack", "--config", "x.yaml", "--set", "a=b", "--log-level", "warn", "up"}, true},
		{[]string{"stack", "--config=x.yaml", "up"}, true},
		{[]string{"stack", "edge"}, false},
		{[]string{"stack", "check"}, false},
		{[]string{"stack", "appserver-worker"}, false},
		{[]string{"stack", "help", "up"}, false},
		{[]string{"stack", "--help", "up"}, false},
		{[]string{"stack"}, false},
	} {
		if got := runs(c.args, []string{"up", "appserver"}); got != c.want {
			t.Errorf("runs(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}

// On one CPU the master's and the worker's starts would take turns: no
// early worker.
func TestStartNoneOnOneCPU(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	Start([]string{"stack", "up"}, "up")
	if l := Take(); l != nil {
		l.Control.Close()
		l.Proc.Kill()
		l.Proc.Wait()
		t.Error("an early worker was started with GOMAXPROCS 1")
	}
}

// The peek at appserver.processes: a --set wins over the environment,
// which wins over the file's text; min_processes and a top-level
// processes list are not it; a named pipe is not read (it would block
// package init).
func TestWantsWorkersPeeksAtProcesses(t *testing.T) {
	dir := t.TempDir()
	file := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	block := file("block.yaml", "edge:\n  listen: [\":8000\"]\nappserver:\n  app: polls\n  processes: 2\n")
	flow := file("flow.yaml", "appserver: {app: hello, \"processes\": 4}\n")
	zero := file("zero.yaml", "appserver:\n  processes: 0\n  min_processes: 1\nprocesses:\n  - {name: x, command: [true]}\n")
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	noEnv := func(string) string { return "" }
	for _, c := range []struct {
		args []string
		env  func(string) string
		want bool
	}{
		{[]string{"stack", "-c", block, "up"}, noEnv, true},
		{[]string{"stack", "--config=" + flow, "up"}, noEnv, true},
		{[]string{"stack", "--config", zero, "up"}, noEnv, false},
		{[]string{"stack", "-c", block, "up", "--set", "appserver.processes=0"}, noEnv, false},
		{[]string{"stack", "-c", zero, "--set=appserver.processes=3", "up"}, noEnv, true},
		{[]string{"stack", "-c", zero, "up"}, func(k string) string {
			if k == "STACK_APPSERVER_PROCESSES" {
				return "2"
			}
			return ""
		}, true},
		{[]string{"stack", "-c", filepath.Join(dir, "missing.yaml"), "up"}, noEnv, false},
		{[]string{"stack", "-c", fifo, "up"}, noEnv, false},
	} {
		if got := wantsWorkers(c.args, c.env); got != c.want {
			t.Errorf("wantsWorkers(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}

// positive reads a number as strconv.Atoi does (the package may not
// import strconv: see the package comment).
func TestPositiveIsAtoiAboveZero(t *testing.T) {
	for _, c := range []struct {
		s    string
		want bool
	}{
		{"1", true}, {" 2 ", true}, {"+3", true}, {"007", true}, {"9223372036854775807", true},
		{"0", false}, {"-1", false}, {"", false}, {"+", false}, {"1.5", false}, {"2x", false},
		{"9223372036854775808", false}, {"99999999999999999999", false}, {"00000000000000000000001", true},
	} {
		if got := positive(c.s); got != c.want {
			t.Errorf("positive(%q) = %v, want %v", c.s, got, c.want)
		}
	}
}

// The start's dependencies are the ones package os has: one whose import
// path sorts late would have other packages initialised before the early
// worker starts (the package comment).
func TestLaunchImportsOnlyWhatOsDoes(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		deps[p] = true
	}
	if !deps["os"] {
		t.Fatalf("go list -deps gave no os:\n%s", out)
	}
	for _, p := range []string{"fmt", "reflect", "strconv", "strings", "unicode", "encoding/binary"} {
		if deps[p] {
			t.Errorf("package launch depends on %s", p)
		}
	}
}
