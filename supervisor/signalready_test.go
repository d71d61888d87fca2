package supervisor

import (
	"context"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"
)

// In mode: subprocess a SIGHUP that reached the stack in a tier child's
// first milliseconds killed the child (Go's default for SIGHUP until
// signal.Notify) and the stack with it. A child started with SignalReady
// gets a reload only once it says it handles SIGHUP; two reloads asked for
// before then are one. The child here is a shell that dies of SIGHUP for
// its first 300 ms, as a Go program does before signal.Notify.
func TestSignalWaitsUntilTheChildHandlesIt(t *testing.T) {
	out := &syncBuffer{}
	s := &Supervisor{Logger: quiet, ShutdownTimeout: 5 * time.Second}
	child := &Process{
		Name: "tier", Restart: "never", Output: out, SignalReady: true,
		Command: []string{"sh", "-c", `sleep 0.3; trap 'echo reloaded' HUP; echo ready; echo x >&3; exec 3>&-; ` +
			`while :; do sleep 0.05; done`},
	}
	s.AddProcess(child)
	stop := make(chan struct{})
	s.AddServer("x", func() error { <-stop; return nil }, func(context.Context) error { return nil })
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	waitFor(t, "the child", func() bool {
		child.mu.Lock()
		defer child.mu.Unlock()
		return child.cmd != nil
	})
	for range 2 {
		if err := child.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the held reload", func() bool { return strings.Contains(out.String(), "reloaded") })
	time.Sleep(200 * time.Millisecond)
	if err := child.Signal(syscall.SIGHUP); err != nil { // ready now: sent at once
		t.Fatal(err)
	}
	waitFor(t, "the second reload", func() bool { return strings.Count(out.String(), "reloaded") == 2 })
	close(stop)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v (the child died of the early SIGHUP?)", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the supervisor did not stop")
	}
	if got := out.String(); strings.Count(got, "reloaded") != 2 || !strings.Contains(got, "ready") {
		t.Errorf("child output %q: want ready, then exactly two reloads (the two early ones folded)", got)
	}
}

// A child that never says it is ready (it exits first) leaves nothing
// behind: the held signal is dropped and the watcher ends.
func TestSignalHeldForAChildThatExitsFirst(t *testing.T) {
	s := &Supervisor{Logger: quiet, ShutdownTimeout: 5 * time.Second}
	child := &Process{Name: "tier", Restart: "never", Output: io.Discard, SignalReady: true,
		Command: []string{"sh", "-c", "trap '' HUP; sleep 0.2"}}
	s.AddProcess(child)
	stop := make(chan struct{})
	s.AddServer("x", func() error { <-stop; return nil }, func(context.Context) error { return nil })
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	waitFor(t, "the child", func() bool {
		child.mu.Lock()
		defer child.mu.Unlock()
		return child.cmd != nil
	})
	child.Signal(syscall.SIGHUP)
	waitFor(t, "the child's exit", func() bool {
		child.mu.Lock()
		defer child.mu.Unlock()
		return child.cmd == nil
	})
	child.mu.Lock()
	held := child.held
	child.mu.Unlock()
	if len(held) != 0 {
		t.Errorf("held %v after the child exited", held)
	}
	close(stop)
	<-done
}
