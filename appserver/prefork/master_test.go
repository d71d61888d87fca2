package prefork

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stack-web/stack/appserver"
	"github.com/stack-web/stack/internal/earlyworker"
)

// The test binary doubles as a worker: a Master under test re-executes it
// with APPSERVER_TEST_WORKER=1, and TestMain then runs RunWorker instead of
// the tests.
func TestMain(m *testing.M) {
	earlyworker.Await() // an early worker (early_test.go) gets its orders
	if os.Getenv("APPSERVER_TEST_WORKER") == "1" {
		startProcs := runtime.GOMAXPROCS(0) // what the master gave its runtime
		cfg := appserver.DefaultConfig()
		cfg.Processes = 2
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/stuck" {
				time.Sleep(time.Hour) // harakiri is off in this worker: only the master can end it
			}
			if r.URL.Path == "/startprocs" {
				fmt.Fprint(w, startProcs)
				return
			}
			io.WriteString(w, "worker")
		})
		started, err := AwaitStart()
		if err != nil {
			os.Exit(1)
		}
		if !started {
			os.Exit(0) // a prespawned worker whose master stopped first
		}
		if err := RunWorker(cfg, h, slog.New(slog.NewTextHandler(os.Stderr, nil))); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// workerSocket makes the workers of a Master started next this test
// binary, and the Unix socket it serves on.
func workerSocket(t *testing.T) (string, net.Listener) {
	t.Helper()
	t.Setenv("APPSERVER_TEST_WORKER", "1") // the workers inherit it; this process read it at start
	path := filepath.Join(t.TempDir(), "app.sock")
	l, err := appserver.Listen("unix:"+path, 0o660)
	if err != nil {
		t.Fatal(err)
	}
	return path, l
}

// slotPIDs returns the pid serving in each slot (0 while empty).
func slotPIDs(m *Master) []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	var pids []int
	for _, s := range m.slots {
		pid := 0
		if s.cur != nil && s.cur.everReady {
			pid = s.cur.pid
		}
		pids = append(pids, pid)
	}
	return pids
}

// waitPIDs waits until every slot has a ready worker and ok accepts them.
func waitPIDs(t *testing.T, m *Master, ok func([]int) bool) []int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := slotPIDs(m)
		full := len(pids) > 0
		for _, p := range pids {
			full = full && p != 0
		}
		if full && ok(pids) {
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("workers %v not as expected after 10s", pids)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A master starts its workers, replaces a killed one at once, chain-reloads
// them all, and on Shutdown leaves no process and no socket behind.
func TestMasterLifecycle(t *testing.T) {
	t.Setenv("APPSERVER_TEST_WORKER", "1") // the workers inherit it; this process read it at start
	path := filepath.Join(t.TempDir(), "app.sock")
	l, err := appserver.Listen("unix:"+path, 0o660)
	if err != nil {
		t.Fatal(err)
	}
	cfg := appserver.DefaultConfig()
	cfg.Processes = 2
	cfg.WorkerReadyTimeout = 10 * time.Second
	m := &Master{Config: cfg, Command: []string{os.Args[0]}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Output: io.Discard}
	served := make(chan error, 1)
	go func() { served <- m.Serve(l) }()

	first := waitPIDs(t, m, func([]int) bool { return true })
	if resp, body := do(t, path, "GET", request("GET", "/", "")); resp.StatusCode != 200 || body != "worker" {
		t.Errorf("through a worker: %d %q", resp.StatusCode, body)
	}

	killed := time.Now()
	syscall.Kill(first[0], syscall.SIGKILL)
	after := waitPIDs(t, m, func(p []int) bool { return p[0] != first[0] })
	t.Logf("killed worker replaced in %v", time.Since(killed))
	if after[1] != first[1] {
		t.Errorf("the other worker changed too: %v → %v", first, after)
	}

	if err := m.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	reloaded := slotPIDs(m)
	for i := range reloaded {
		if reloaded[i] == after[i] {
			t.Errorf("slot %d not reloaded: pid %d", i+1, reloaded[i])
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, appserver.ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("socket left after Shutdown")
	}
	for _, pid := range append(append(first, after...), reloaded...) {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("worker %d still alive after Shutdown", pid)
		}
	}
}

// Cheaper mode retires a worker idle for cheaperIdle while more than
// min_processes run, and never goes below min_processes.
func TestCheaperRetiresAnIdleWorker(t *testing.T) {
	cfg := appserver.DefaultConfig()
	cfg.Processes, cfg.MinProcesses = 2, 1
	m := &Master{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	m.init()
	now := time.Now()
	var ends []*ctrlConn
	for i := range 2 {
		cc, theirs, err := controlPair()
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		end, err := fileCtrlConn(theirs)
		if err != nil {
			t.Fatal(err)
		}
		defer end.Close()
		ends = append(ends, end)
		s := &slot{id: i + 1}
		s.cur = &workerHandle{slot: s, pid: 100 + i, cc: cc, idleSince: now.Add(-time.Duration(i) * 2 * cheaperIdle)}
		m.slots = append(m.slots, s)
	}
	m.slots[0].cur.idleSince = now // busy a moment ago
	m.cheaperStep(now)
	if !m.slots[1].cheap || m.slots[1].cur != nil || m.slots[0].cheap {
		t.Fatalf("after a step: slot 1 cheap=%v, slot 2 cheap=%v cur=%v; want slot 2 retired", m.slots[0].cheap, m.slots[1].cheap, m.slots[1].cur)
	}
	ends[1].c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if msg, err := ends[1].Recv(); err != nil || msg.T != "drain" {
		t.Errorf("retired worker got %+v, %v; want drain", msg, err)
	}
	// The last one stays, however idle.
	m.slots[0].cur.idleSince = now.Add(-time.Hour)
	m.cheaperStep(now)
	if m.slots[0].cheap || m.slots[0].cur == nil {
		t.Error("cheaper mode went below min_processes")
	}
}

// A worker that does not end an overdue request itself (its own harakiri
// is off here) is killed by the master's backstop and replaced.
func TestMasterHarakiriBackstop(t *testing.T) {
	path, l := workerSocket(t)
	cfg := appserver.DefaultConfig()
	cfg.Processes = 1
	cfg.Harakiri = 100 * time.Millisecond
	var logs syncBuffer
	m := &Master{Config: cfg, Command: []string{os.Args[0]}, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Output: io.Discard}
	go m.Serve(l)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		m.Shutdown(ctx)
	}()
	first := waitPIDs(t, m, func([]int) bool { return true })
	go rawExchange(t, path, request("GET", "/stuck", ""))
	waitPIDs(t, m, func(p []int) bool { return p[0] != first[0] })
	if out := logs.String(); !strings.Contains(out, "did not end an overdue request") || !strings.Contains(out, "uri=/stuck") {
		t.Errorf("no backstop log line:\n%s", out)
	}
}

// A replaced worker that does not exit (a request that never ends, with
// harakiri off; or a stopped process) is killed after the retire mercy,
// not left running unseen after every reload.
func TestMasterKillsARetiredWorkerThatDoesNotExit(t *testing.T) {
	path, l := workerSocket(t)
	cfg := appserver.DefaultConfig()
	cfg.Processes = 1
	cfg.Harakiri = 0
	var logs syncBuffer
	m := &Master{Config: cfg, Command: []string{os.Args[0]}, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Output: io.Discard,
		mercy: 300 * time.Millisecond}
	go m.Serve(l)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		m.Shutdown(ctx)
	}()
	first := waitPIDs(t, m, func([]int) bool { return true })
	go rawExchange(t, path, request("GET", "/stuck", ""))
	time.Sleep(100 * time.Millisecond) // the worker has it
	if err := m.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(first[0], 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the replaced worker %d, busy for ever, still runs 5s after the reload (mercy 300ms)\n%s", first[0], logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out := logs.String(); !strings.Contains(out, "did not exit within its mercy") {
		t.Errorf("the kill is not logged:\n%s", out)
	}
}

// A retired worker's late "recycle" or "harakiri" (its slot went cheap,
// or already has a successor) starts no worker: a cheap slot stays empty.
func TestLateRecycleOfARetiredWorkerStartsNothing(t *testing.T) {
	cfg := appserver.DefaultConfig()
	cfg.Processes, cfg.MinProcesses = 2, 1
	m := &Master{Config: cfg, Command: []string{filepath.Join(t.TempDir(), "no-such-binary")}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	m.init()
	s := &slot{id: 2, cheap: true}
	retired := &workerHandle{slot: s, pid: 101, retiring: true}
	m.slots = append(m.slots, s)
	if err := m.replace(s, retired, "max_requests"); err != nil {
		t.Errorf("replace for a retired worker of a cheap slot: %v; want nothing done", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.cur != nil || !s.cheap || s.spawns != 0 || len(m.live) != 0 {
		t.Errorf("a worker was started in a cheap slot: cur=%v cheap=%v", s.cur, s.cheap)
	}
}

// A crash loop pauses 100ms, doubling, up to 5s.
func TestCrashPause(t *testing.T) {
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 7: 5 * time.Second, 100: 5 * time.Second} {
		if got := crashPause(n); got != want {
			t.Errorf("crashPause(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestCPUShare(t *testing.T) {
	for _, c := range []struct{ cpus, processes, want int }{
		{2, 2, 1}, {8, 2, 4}, {3, 2, 2}, {2, 4, 1}, {1, 8, 1}, {16, 3, 6},
	} {
		if got := cpuShare(c.cpus, c.processes); got != c.want {
			t.Errorf("cpuShare(%d CPUs, %d processes) = %d, want %d", c.cpus, c.processes, got, c.want)
		}
	}
}

// The first worker starts with as many others as there are CPUs it does
// not use (spawnRest); the rest are started once it is ready, so that it
// does not share the CPU of its start with them, and a fresh stack's first
// request (waiting in the backlog) is answered sooner.
func TestMasterStartsTheOthersOnceTheFirstIsReady(t *testing.T) {
	t.Setenv("APPSERVER_TEST_WORKER", "1")
	path := filepath.Join(t.TempDir(), "app.sock")
	l, err := appserver.Listen("unix:"+path, 0o660)
	if err != nil {
		t.Fatal(err)
	}
	cfg := appserver.DefaultConfig()
	cfg.Processes = 3
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Two CPUs: worker 2 starts with the first, worker 3 once it is ready.
	m := &Master{Config: cfg, Command: []string{exe}, Output: io.Discard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), cpus: 2}
	served := make(chan error, 1)
	go func() { served <- m.Serve(l) }()
	waitPIDs(t, m, func([]int) bool { return true })
	m.mu.Lock()
	first := m.slots[0].cur
	for _, s := range m.slots[1:] {
		t.Logf("worker %d started %v after the first, %v after it was ready", s.id,
			s.cur.spawned.Sub(first.spawned).Round(time.Microsecond), s.cur.spawned.Sub(first.readyAt).Round(time.Microsecond))
		if s.id > 2 && s.cur.spawned.Before(first.readyAt) {
			t.Errorf("worker %d started before the first was ready; only worker 2 has a CPU of its own", s.id)
		}
	}
	m.mu.Unlock()
	stopMaster(t, m, served)
}
