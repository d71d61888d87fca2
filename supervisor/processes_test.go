package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Processes added together are told to stop at once: each takes a second
// to stop after its SIGTERM and records when it got it, and the three got
// theirs together, not a second apart.
func TestProcessesStopTogether(t *testing.T) {
	dir := t.TempDir()
	out := &syncBuffer{}
	s := &Supervisor{Logger: quiet, ShutdownTimeout: 10 * time.Second}
	var ps []*Process
	for i := range 3 {
		// The trap is set before "up" is printed, which the test waits for.
		script := `trap 'date +%s.%N > "$1"; sleep 1; exit 0' TERM; echo up; while :; do sleep 0.05; done`
		ps = append(ps, &Process{Name: fmt.Sprint("p", i), Command: []string{"sh", "-c", script, "sh", filepath.Join(dir, fmt.Sprint(i))},
			Restart: "always", Output: out})
	}
	s.AddProcesses(ps...)
	trigger := make(chan struct{})
	s.Add(func() error { <-trigger; return nil }, func(error) {})
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	for i := range 3 {
		waitFor(t, fmt.Sprint("p", i, " up"), func() bool { return strings.Contains(out.String(), fmt.Sprintf("[p%d] up", i)) })
	}
	close(trigger)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Told one after the other, each got its SIGTERM once the one before
	// had exited: a second or more apart.
	var first, last float64
	for i := range 3 {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprint(i)))
		if err != nil {
			t.Fatalf("p%d did not get SIGTERM: %v", i, err)
		}
		at, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 || at < first {
			first = at
		}
		last = max(last, at)
	}
	if last-first >= 0.9 {
		t.Errorf("the SIGTERMs came %.2f s apart: one after another's stop", last-first)
	}
}
