package earlyworker

import (
	"runtime"
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
