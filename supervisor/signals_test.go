package supervisor

// Signals: SIGINT and SIGTERM stop, SIGHUP reloads, and what each does
// during a reload or a stop.

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestSignalIsCleanExit(t *testing.T) {
	s := &Supervisor{Logger: quiet, ShutdownTimeout: time.Second}
	reloads := make(chan struct{}, 1)
	s.AddSignals(func() { reloads <- struct{}{} })
	stop := make(chan struct{})
	s.AddServer("x", func() error { <-stop; return nil }, func(context.Context) error { close(stop); return nil })
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	time.Sleep(50 * time.Millisecond) // let signal.Notify take effect before we signal
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	select {
	case <-reloads:
	case <-time.After(5 * time.Second):
		t.Fatal("SIGHUP did not call reload")
	}
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after SIGTERM = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SIGTERM did not stop the group")
	}
}

// A second SIGTERM during the graceful stop killed the supervisor at once
// (the handler was gone), leaving a child's group that ignores SIGTERM
// running with nobody to kill it. Now it ends the grace period: the group
// gets SIGKILL and Run returns.
func TestSecondSignalStopsNowAndKillsTheGroup(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	s := &Supervisor{Logger: quiet, ShutdownTimeout: time.Minute}
	s.AddSignals(nil)
	s.AddProcess(&Process{Name: "stubborn", Command: []string{"sh", "-c", `trap '' TERM; sleep 300 & echo $! > "$1"; wait`, "sh", pids}, Restart: "always", Output: io.Discard})
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	var pid int
	waitFor(t, "the grandchild", func() bool {
		b, _ := os.ReadFile(pids)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return pid > 0
	})
	time.Sleep(50 * time.Millisecond) // let signal.Notify take effect
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case err := <-done:
		t.Fatalf("Run returned %v although the child ignores SIGTERM and the deadline is a minute away", err)
	case <-time.After(300 * time.Millisecond):
	}
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil (a signal is a clean exit)", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a second SIGTERM did not end the graceful stop")
	}
	if outlives(pid) { // the group's SIGKILL was sent before Run returned
		t.Errorf("the child's sleep (pid %d) outlived the supervisor", pid)
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// A SIGTERM during a long reload stops the group at once, and Run waits
// for the reload to return; SIGHUPs during a reload fold into one more.
func TestSIGTERMDuringReload(t *testing.T) {
	s := &Supervisor{Logger: quiet, ShutdownTimeout: time.Second}
	var calls atomic.Int32
	inReload := make(chan struct{}, 4)
	stop := make(chan struct{})
	s.AddSignals(func() {
		calls.Add(1)
		inReload <- struct{}{}
		<-stop // as a chain reload waits for a worker until the stop
	})
	stopped := make(chan struct{})
	s.AddServer("x", func() error { <-stop; return nil }, func(context.Context) error { close(stop); close(stopped); return nil })
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	time.Sleep(50 * time.Millisecond)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	<-inReload
	for range 5 {
		syscall.Kill(os.Getpid(), syscall.SIGHUP)
		time.Sleep(5 * time.Millisecond)
	}
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("SIGTERM during a reload did not stop the servers: the reload holds the signals")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	if n := calls.Load(); n > 2 {
		t.Errorf("%d reloads for 6 SIGHUPs during one: want them folded into at most one more", n)
	}
}

// A SIGHUP or a second SIGTERM during the graceful stop must not kill the
// process (the default action of both) while requests are finishing: the
// SIGHUP is ignored and logged, the SIGTERM only ends the grace period.
func TestSignalsDuringTheStopAreIgnored(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	s := &Supervisor{Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil)), ShutdownTimeout: 5 * time.Second}
	s.AddSignals(func() {})
	stop, stopping, release := make(chan struct{}), make(chan struct{}), make(chan struct{})
	s.AddServer("x", func() error { <-stop; return nil }, func(context.Context) error {
		close(stopping)
		<-release // requests finishing
		close(stop)
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	time.Sleep(50 * time.Millisecond)
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	<-stopping
	syscall.Kill(os.Getpid(), syscall.SIGHUP) // kills this test binary unless caught
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	time.Sleep(100 * time.Millisecond)
	close(release)
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "while stopping; ignoring it") {
		t.Errorf("the signals during the stop are not logged:\n%s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
