package prefork

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stack-web/stack/appserver"
	"github.com/stack-web/stack/internal/earlyworker"
)

// startEarly starts an early worker of the test binary, as cmd/stack's
// package init does for `stack up`.
func startEarly(t *testing.T) *earlyworker.Process {
	t.Helper()
	if runtime.GOMAXPROCS(0) < 2 { // one CPU starts none
		prev := runtime.GOMAXPROCS(2)
		t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	}
	earlyworker.Start([]string{"stack", "--log-level", "warn", "up", "--set", "appserver.processes=2"}, "up", "appserver")
	e := earlyworker.Take()
	if e == nil {
		t.Fatal("no early worker started for `stack up`")
	}
	return e
}

// waitExit0 waits for p's exit and says whether it was status 0.
func waitExit0(t *testing.T, p *os.Process) {
	t.Helper()
	done := make(chan *os.ProcessState, 1)
	go func() {
		st, _ := p.Wait()
		done <- st
	}()
	select {
	case st := <-done:
		if st == nil || st.ExitCode() != 0 {
			t.Errorf("early worker %d: %v, want exit status 0", p.Pid, st)
		}
	case <-time.After(10 * time.Second):
		p.Kill()
		t.Errorf("early worker %d still running 10s after it was dropped", p.Pid)
	}
}

// An early worker, started before the master existed, is adopted as the
// first worker: the same process waits for the socket, then serves, with
// the environment its orders gave it (APPSERVER_TEST_WORKER reaches it
// only through them: the test binary would otherwise run the tests) and
// the master's CPU share. The others start once it is ready.
func TestEarlyWorkerIsAdoptedWithItsOrders(t *testing.T) {
	t.Setenv("GOMAXPROCS", "") // unset for the master's decision
	e := startEarly(t)
	path := filepath.Join(t.TempDir(), "app.sock")
	cfg := appserver.DefaultConfig()
	cfg.Processes = 2
	logs := &syncBuffer{}
	m := &Master{Config: cfg, Command: []string{e.Exe}, Env: []string{"APPSERVER_TEST_WORKER=1"},
		Logger: slog.New(slog.NewTextHandler(logs, nil)), Output: os.Stderr}
	if err := m.PrespawnEarly(e); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	pre := m.slots[0].cur
	m.mu.Unlock()
	if pre == nil || pre.pid != e.Proc.Pid || !pre.awaiting {
		t.Fatalf("slot 1 after PrespawnEarly: %+v, want the early worker %d waiting for its socket\n%s", pre, e.Proc.Pid, logs)
	}
	l, err := appserver.Listen("unix:"+path, 0o660)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- m.Serve(l) }()
	pids := waitPIDs(t, m, func([]int) bool { return true })
	if pids[0] != e.Proc.Pid {
		t.Errorf("slot 1 is served by %d, want the early worker %d\n%s", pids[0], e.Proc.Pid, logs)
	}
	// The other worker starts once the early one is ready, not beside
	// its build (alongside).
	m.mu.Lock()
	first, second := m.slots[0].cur, m.slots[1].cur
	m.mu.Unlock()
	if second.spawned.Before(first.readyAt) {
		t.Errorf("worker 2 spawned %v before the early worker 1 was ready", first.readyAt.Sub(second.spawned))
	}
	want := strconv.Itoa(cpuShare(runtime.GOMAXPROCS(0), 2))
	for range 4 { // both workers answer, whichever accepts
		if resp, body := do(t, path, "GET", request("GET", "/startprocs", "")); resp.StatusCode != 200 || body != want {
			t.Errorf("a worker's GOMAXPROCS: %d %q, want %s", resp.StatusCode, body, want)
		}
	}
	if strings.Contains(logs.String(), "died") {
		t.Errorf("a worker died:\n%s", logs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		t.Error(err)
	}
	<-served
}

// A master whose workers run another binary (or as another user, or
// write elsewhere) drops the early worker, which exits without running
// anything and is reaped, and starts its first worker itself.
func TestEarlyWorkerOfAnotherBinaryIsDropped(t *testing.T) {
	t.Setenv("APPSERVER_TEST_WORKER", "1")
	e := startEarly(t)
	other := filepath.Join(t.TempDir(), "worker")
	if err := os.Symlink(e.Exe, other); err != nil {
		t.Fatal(err)
	}
	cfg := appserver.DefaultConfig()
	cfg.Processes = 1
	m := &Master{Config: cfg, Command: []string{other}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Output: os.Stderr}
	if err := m.PrespawnEarly(e); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	pre := m.slots[0].cur
	m.mu.Unlock()
	if pre == nil || pre.pid == e.Proc.Pid {
		t.Fatalf("slot 1 after PrespawnEarly with another binary: %+v, want a worker of its own", pre)
	}
	// Dropped, it exits and is reaped (by the master: no zombie left).
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(e.Proc.Pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the dropped early worker %d is still there (or unreaped) after 10s", e.Proc.Pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m.Shutdown(ctx)
}

// An early worker nobody adopts (a configuration without worker
// processes) exits 0 once dropped, and one whose master is gone too.
func TestEarlyWorkerDroppedExits(t *testing.T) {
	e := startEarly(t)
	e.Control.Close()
	waitExit0(t, e.Proc)
	if err := syscall.Kill(e.Proc.Pid, 0); err == nil {
		t.Errorf("early worker %d still there after its exit", e.Proc.Pid)
	}
}
