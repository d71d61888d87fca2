package supervisor

import (
	"context"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// A SIGHUP held while the stack started was sent again once the
// supervisor's own channel was registered; a SIGHUP that os/signal's loop
// dispatched while both channels were registered (its loop runs late on a
// busy machine) was taken by both, and the start's one reload was done
// twice (seen in mode: subprocess as an edge child reloading twice for one
// SIGHUP). AddSignalsFrom takes over the holding channel: there is only
// ever one channel, a held SIGHUP is one reload (or dropped), and a
// SIGTERM that follows is not lost.
func TestBrkAddSignalsFromTakesOverTheHold(t *testing.T) {
	for _, reloadHeld := range []bool{true, false} {
		held := make(chan os.Signal, 2)
		signal.Notify(held, syscall.SIGHUP)
		syscall.Kill(os.Getpid(), syscall.SIGHUP)
		syscall.Kill(os.Getpid(), syscall.SIGHUP)
		deadline := time.Now().Add(5 * time.Second)
		for len(held) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the SIGHUP was not held")
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // the second one, if not merged by the kernel

		s := &Supervisor{Logger: quiet, ShutdownTimeout: time.Second}
		var reloads atomic.Int32
		s.AddSignalsFrom(held, reloadHeld, func() { reloads.Add(1) })
		stop := make(chan struct{})
		s.AddServer("x", func() error { <-stop; return nil }, func(context.Context) error { close(stop); return nil })
		done := make(chan error, 1)
		go func() { done <- s.Run() }()
		want := int32(0)
		if reloadHeld {
			want = 1
		}
		time.Sleep(300 * time.Millisecond)
		if got := reloads.Load(); got != want {
			t.Errorf("reloadHeld %v: %d reloads for the held SIGHUPs, want %d", reloadHeld, got, want)
		}
		syscall.Kill(os.Getpid(), syscall.SIGHUP) // after the handover: one channel, one reload
		time.Sleep(300 * time.Millisecond)
		if got := reloads.Load(); got != want+1 {
			t.Errorf("reloadHeld %v: %d reloads after one more SIGHUP, want %d", reloadHeld, got, want+1)
		}
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("SIGTERM did not stop the supervisor")
		}
	}
}
