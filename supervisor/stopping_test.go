package supervisor

import (
	"context"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// OnStopping's hooks run at the SIGTERM, before the first actor is
// interrupted (the admin's /readyz turns 503 before the edge drains),
// and once only.
func TestOnStoppingRunsBeforeTheDrain(t *testing.T) {
	s := &Supervisor{Logger: quiet, ShutdownTimeout: time.Second}
	var calls atomic.Int32
	var sawStopping atomic.Bool
	s.OnStopping(func() { calls.Add(1) })
	s.AddSignals(nil)
	stop := make(chan struct{})
	s.AddServer("edge", func() error { <-stop; return nil }, func(context.Context) error {
		sawStopping.Store(calls.Load() == 1)
		close(stop)
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	time.Sleep(50 * time.Millisecond) // let signal.Notify take effect
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SIGTERM did not stop the group")
	}
	if !sawStopping.Load() {
		t.Error("the edge's interrupt ran before the OnStopping hook")
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("OnStopping hook ran %d times, want 1", n)
	}
}

// A stop caused by an actor's failure (no signal) runs the hooks too.
func TestOnStoppingRunsWhenAnActorFails(t *testing.T) {
	s := &Supervisor{Logger: quiet, ShutdownTimeout: time.Second}
	var calls atomic.Int32
	s.OnStopping(func() { calls.Add(1) })
	s.Add(func() error { return os.ErrClosed }, func(error) {})
	stop := make(chan struct{})
	s.AddServer("edge", func() error { <-stop; return nil }, func(context.Context) error { close(stop); return nil })
	if err := s.Run(); err == nil {
		t.Fatal("Run = nil, want the actor's error")
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("OnStopping hook ran %d times, want 1", n)
	}
}
