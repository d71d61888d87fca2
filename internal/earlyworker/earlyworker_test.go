package earlyworker

import (
	"os"
	"path/filepath"
	"runtime"
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
	if p := Take(); p != nil {
		p.Discard()
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

// Orders carry the master's whole environment; orders larger than Await
// accepts are refused at the master (which then starts its worker itself),
// not sent to a worker that would exit 1 on them.
func TestOrderRefusesWhatAwaitWouldNot(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "mine"), os.NewFile(uintptr(fds[1]), "theirs")
	defer mine.Close()
	defer theirs.Close()
	p := &Process{Proc: &os.Process{Pid: os.Getpid()}, Control: mine}
	big := "X=" + string(make([]byte, maxOrders))
	if err := p.Order([]string{"stack", "appserver-worker"}, []string{big}); err == nil {
		t.Error("orders over maxOrders were sent")
	}
	if err := p.Order([]string{"stack", "appserver-worker"}, os.Environ()); err != nil {
		t.Errorf("orders with this environment: %v", err)
	}
}
