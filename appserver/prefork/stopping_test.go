package prefork

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stack-web/stack/appserver"
)

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// waitFor polls cond every millisecond until it holds, for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
	}
}

// stopMaster shuts m down within 10 s and checks that Serve (which sends
// its result to served) returned ErrServerClosed.
func stopMaster(t *testing.T, m *Master, served <-chan error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		t.Error(err)
	}
	if err := <-served; !errors.Is(err, appserver.ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
}

// Found with `stack up` (polls, 2 processes) sent SIGTERM to its process
// group just after its first 200, 2 starts in 30: worker 2, spawned right
// then, got the signal between its fork and its setpgid and died of it.
// The master reaped it before its own signal handling had begun the stop,
// logged ERROR "worker died" and a crash-loop WARN, and respawned it
// 100 ms later, during the stop. A worker that dies of SIGTERM before it
// was ready is now judged at the end of the crash-loop pause: here the
// first such death is a crash (no stop by then: ERROR, WARN in_a_row=1,
// respawned after the pause, as before), the second is followed within
// its pause by the stop: an INFO line, no ERROR, no respawn.
func TestWorkerKilledByTheStopsSignalIsNotACrash(t *testing.T) {
	path, l, shell := scriptedWorkers(t)
	// The first two processes die of SIGTERM before they are ready; a
	// third would be a real worker.
	script := `for n in a b; do
	if mkdir "$1/$n" 2>/dev/null; then kill -TERM $$; sleep 5; exit 3; fi
done
mkdir "$1/c"
exec "$0"`
	dir := filepath.Dir(path)
	cfg := appserver.DefaultConfig()
	cfg.Processes = 1
	cfg.WorkerReadyTimeout = 10 * time.Second
	logs := &syncBuffer{}
	m := &Master{Config: cfg, Command: shell(script), Output: io.Discard,
		Logger: slog.New(slog.NewTextHandler(logs, nil))}
	served := make(chan error, 1)
	go func() { served <- m.Serve(l) }()
	defer stopMaster(t, m, served)

	// b is reaped (its slot empty) within a's pause (100 ms) and b's own
	// (200 ms): the stop begins now, as if its signal had killed b.
	waitFor(t, 10*time.Second, "the second worker's death", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return exists(filepath.Join(dir, "b")) && len(m.slots) == 1 && m.slots[0].cur == nil
	})
	m.BeginStop()
	time.Sleep(crashPause(2) + 300*time.Millisecond) // past b's pause: a respawn would have come by now
	out := logs.String()
	var bad []string
	if exists(filepath.Join(dir, "c")) {
		bad = append(bad, "a worker was respawned after the stop had begun")
	}
	if n := strings.Count(out, "appserver: worker died\""); n != 1 {
		bad = append(bad, fmt.Sprintf("%d lines \"worker died\", want 1 (the first death, with no stop in its pause)", n))
	}
	if !strings.Contains(out, `pause=100ms in_a_row=1`) || strings.Contains(out, "in_a_row=2") {
		bad = append(bad, "want one crash-loop line, in_a_row=1 after 100ms")
	}
	if n := strings.Count(out, "worker ended by the stop's signal"); n != 1 {
		bad = append(bad, fmt.Sprintf("%d lines \"ended by the stop's signal\", want 1", n))
	}
	m.mu.Lock()
	spawns, crashes := m.slots[0].spawns, m.slots[0].crashes
	m.mu.Unlock()
	if spawns != 1 || crashes != 2 {
		bad = append(bad, fmt.Sprintf("slot 1: %d respawns, %d crashes in a row; want 1 (b, after a's pause) and 2", spawns, crashes))
	}
	if len(bad) > 0 {
		t.Errorf("%s:\n%s", strings.Join(bad, "; "), out)
	}
}

// Once the stop has begun (BeginStop: the supervisor's first moment, while
// the edge drains), the master starts no worker before its Shutdown: not
// the second worker that spawnRest starts once the first is ready, not a
// respawn of a worker that crashes, not a reload's. The first keeps
// serving.
func TestNoWorkerStartsOnceTheStopHasBegun(t *testing.T) {
	path, l, shell := scriptedWorkers(t)
	// The first process waits for go before it becomes a worker; every
	// process leaves a file named after its pid.
	script := `: >"$1/spawned.$$"
if mkdir "$1/first" 2>/dev/null; then
	while [ ! -e "$1/go" ]; do sleep 0.01; done
fi
exec "$0"`
	dir := filepath.Dir(path)
	spawned := func() int {
		ms, _ := filepath.Glob(filepath.Join(dir, "spawned.*"))
		return len(ms)
	}
	cfg := appserver.DefaultConfig()
	cfg.Processes = 2
	cfg.WorkerReadyTimeout = 10 * time.Second
	logs := &syncBuffer{}
	// One CPU: worker 2 is started once the first is ready (spawnRest).
	m := &Master{Config: cfg, Command: shell(script), Output: io.Discard,
		Logger: slog.New(slog.NewTextHandler(logs, nil)), cpus: 1}
	served := make(chan error, 1)
	go func() { served <- m.Serve(l) }()
	defer stopMaster(t, m, served)

	waitFor(t, 10*time.Second, "the first worker's start", func() bool { return exists(filepath.Join(dir, "first")) })
	m.BeginStop()
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var first int
	waitFor(t, 10*time.Second, "the first worker ready", func() bool {
		first = slotPIDs(m)[0]
		return first != 0
	})
	if resp, body := do(t, path, "GET", request("GET", "/", "")); resp.StatusCode != 200 || body != "worker" {
		t.Errorf("through the first worker: %d %q", resp.StatusCode, body)
	}
	time.Sleep(300 * time.Millisecond) // spawnRest would have started worker 2 by now
	if n := spawned(); n != 1 {
		t.Fatalf("%d processes started, want the first only:\n%s", n, logs)
	}
	syscall.Kill(first, syscall.SIGKILL) // a real crash: reported, not respawned
	waitFor(t, 5*time.Second, "the first worker's death", func() bool { return strings.Contains(logs.String(), "worker died") })
	time.Sleep(300 * time.Millisecond) // a respawn would have started by now
	if err := m.Reload(); !errors.Is(err, appserver.ErrServerClosed) {
		t.Errorf("Reload during the stop = %v, want ErrServerClosed", err)
	}
	if n := spawned(); n != 1 {
		t.Errorf("%d processes started, want the first only:\n%s", n, logs)
	}
	m.mu.Lock()
	for _, s := range m.slots {
		if s.cur != nil {
			t.Errorf("slot %d has a worker (pid %d) started during the stop", s.id, s.cur.pid)
		}
	}
	m.mu.Unlock()
}

// Found with `stack up` (processes: 1) sent SIGTERM with a request in
// flight, its worker then SIGKILLed: no worker was respawned (the stop
// had begun), but the socket stayed open with nobody to accept on it, so
// the edge's request, sent again after the worker died, waited in the
// backlog for the whole shutdown_timeout and the client got no answer at
// all. Once the stop has begun and no worker is left, the socket is now
// closed: a connection is refused at once (the edge answers 502).
func TestSocketClosedWhenNoWorkerIsLeftDuringTheStop(t *testing.T) {
	path, l, shell := scriptedWorkers(t)
	cfg := appserver.DefaultConfig()
	cfg.Processes = 1
	cfg.WorkerReadyTimeout = 10 * time.Second
	logs := &syncBuffer{}
	m := &Master{Config: cfg, Command: shell(`exec "$0"`), Output: io.Discard,
		Logger: slog.New(slog.NewTextHandler(logs, nil))}
	served := make(chan error, 1)
	go func() { served <- m.Serve(l) }()
	defer stopMaster(t, m, served)

	var pid int
	waitFor(t, 10*time.Second, "the worker ready", func() bool {
		if pids := slotPIDs(m); len(pids) > 0 {
			pid = pids[0]
		}
		return pid != 0
	})
	m.BeginStop()
	if c, err := net.DialTimeout("unix", path, time.Second); err != nil {
		t.Fatalf("the socket was closed while its worker still served: %v", err)
	} else {
		c.Close()
	}
	syscall.Kill(pid, syscall.SIGKILL)
	waitFor(t, 5*time.Second, "the worker's death", func() bool { return strings.Contains(logs.String(), "worker died") })
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		t.Errorf("the stop has begun and no worker is left, but a connection to the socket is still taken (it would wait there until shutdown_timeout):\n%s", logs)
	}
}

// Seen in `stack up`'s log after an edge drain that used all of
// shutdown_timeout, its workers already gone: "appserver: graceful stop
// incomplete ... 0 workers still busy were killed: context deadline
// exceeded". Shutdown's select took the expired deadline over the
// workers' all being gone, both ready, half of the time. With no worker
// left there is nothing cut short: no error.
func TestShutdownWithNoWorkerLeftIsCompleteEvenPastItsDeadline(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 50 { // the select chooses at random: 50 tries
		if err := (&Master{}).Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown with no worker and its deadline passed: %v, want nil", err)
		}
	}
}
