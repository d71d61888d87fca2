package prefork

import (
	"context"
	"errors"
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
)

// A prespawned worker is started before the master has a socket, waits
// for it, and once Start hands it over it is that same process that
// becomes ready and serves: not a respawn after a failure.
func TestPrespawnedWorkerServesOnTheSocketStartHandsIt(t *testing.T) {
	t.Setenv("APPSERVER_TEST_WORKER", "1")
	path := filepath.Join(t.TempDir(), "app.sock")
	cfg := appserver.DefaultConfig()
	cfg.Processes = 2
	logs := &syncBuffer{}
	m := &Master{Config: cfg, Command: []string{os.Args[0]}, Logger: slog.New(slog.NewTextHandler(logs, nil)), Output: io.Discard}
	if err := m.Prespawn(); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	pre := m.slots[0].cur
	m.mu.Unlock()
	if pre == nil || !pre.awaiting {
		t.Fatalf("no worker waiting for its socket after Prespawn: %+v", pre)
	}
	// It is running (its init, its configuration) and has no socket yet.
	time.Sleep(50 * time.Millisecond)
	if err := syscall.Kill(pre.pid, 0); err != nil {
		t.Fatalf("the prespawned worker %d is not running: %v\n%s", pre.pid, err, logs)
	}
	select {
	case <-pre.ready:
		t.Fatal("the prespawned worker was ready before it had a socket")
	default:
	}

	l, err := appserver.Listen("unix:"+path, 0o660)
	if err != nil {
		t.Fatal(err)
	}
	opened := time.Now()
	served := make(chan error, 1)
	go func() { served <- m.Serve(l) }()
	pids := waitPIDs(t, m, func([]int) bool { return true })
	if pids[0] != pre.pid {
		t.Errorf("slot 1 is served by %d, want the prespawned worker %d\n%s", pids[0], pre.pid, logs)
	}
	t.Logf("prespawned worker ready %v after the socket was handed over", pre.readyAt.Sub(opened).Round(time.Microsecond))
	if resp, body := do(t, path, "GET", request("GET", "/", "")); resp.StatusCode != 200 || body != "worker" {
		t.Errorf("through the prespawned worker: %d %q", resp.StatusCode, body)
	}
	if strings.Contains(logs.String(), "died") {
		t.Errorf("a worker died:\n%s", logs)
	}
	stopMaster(t, m, served)
}

// A master shut down before Start (`stack up` whose release failed) tells
// its prespawned worker to drain: it exits 0 at once, without a socket,
// and nothing is left.
func TestPrespawnedWorkerGoesWithAShutdownBeforeStart(t *testing.T) {
	t.Setenv("APPSERVER_TEST_WORKER", "1")
	cfg := appserver.DefaultConfig()
	cfg.Processes = 2
	logs := &syncBuffer{}
	m := &Master{Config: cfg, Command: []string{os.Args[0]}, Logger: slog.New(slog.NewTextHandler(logs, nil)), Output: io.Discard}
	if err := m.Prespawn(); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	pid := m.slots[0].cur.pid
	m.mu.Unlock()
	time.Sleep(50 * time.Millisecond) // waiting for its socket, most likely
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown killed the prespawned worker instead of letting it exit: %v", err)
	}
	if syscall.Kill(pid, 0) == nil {
		t.Errorf("prespawned worker %d still alive after Shutdown", pid)
	}
	if !strings.Contains(logs.String(), `status="exit status 0"`) || strings.Contains(logs.String(), "died") {
		t.Errorf("the prespawned worker did not exit 0 as told:\n%s", logs)
	}
	l, err := appserver.Listen("unix:"+filepath.Join(t.TempDir(), "app.sock"), 0o660)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := m.Serve(l); !errors.Is(err, appserver.ErrServerClosed) {
		t.Errorf("Serve after Shutdown: %v", err)
	}
}

// A worker's runtime starts with its share of the CPUs (GOMAXPROCS in its
// environment), not with every CPU until RunWorker: a second P during its
// start leaves half-used spans behind (PSS).
func TestWorkerStartsWithItsCPUShare(t *testing.T) {
	t.Setenv("APPSERVER_TEST_WORKER", "1")
	t.Setenv("GOMAXPROCS", "") // unset for the master's decision
	path := filepath.Join(t.TempDir(), "app.sock")
	l, err := appserver.Listen("unix:"+path, 0o660)
	if err != nil {
		t.Fatal(err)
	}
	cfg := appserver.DefaultConfig()
	cfg.Processes = 2
	m := &Master{Config: cfg, Command: []string{os.Args[0]}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Output: io.Discard}
	served := make(chan error, 1)
	go func() { served <- m.Serve(l) }()
	waitPIDs(t, m, func([]int) bool { return true })
	want := strconv.Itoa(cpuShare(runtime.GOMAXPROCS(0), 2))
	if resp, body := do(t, path, "GET", request("GET", "/startprocs", "")); resp.StatusCode != 200 || body != want {
		t.Errorf("a worker's GOMAXPROCS at its start: %d %q, want %s", resp.StatusCode, body, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		t.Error(err)
	}
	<-served
}
