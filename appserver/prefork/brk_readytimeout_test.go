package prefork

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stack-web/stack/appserver"
)

// Found by starting `stack up` (polls, 3 processes, worker_ready_timeout
// 2s) with its database on a server that accepts and never answers: the
// workers hung in their start for the driver's 15 s, none killed at 2 s.
// worker_ready_timeout bounds a new worker's start (its documentation:
// one not ready by then is killed), but only a reload's replacement was
// held to it: a worker started at start, or respawned, that hangs in its
// start (an init blocked on a database, a deadlock) held its slot for as
// long as it hung, forever for a real hang, and with one process nothing
// was ever served. It is killed, and its slot respawned after the
// crash-loop pause.
func TestBrkHungStartingWorkerIsKilledAtWorkerReadyTimeout(t *testing.T) {
	path, l, shell := scriptedWorkers(t)
	// The first process started hangs without a word (exec: the master's
	// kill reaches it, not a shell); every later one is a real worker.
	script := `if mkdir "$1/first" 2>/dev/null; then exec sleep 3600; fi; exec "$0"`
	cfg := appserver.DefaultConfig()
	cfg.Processes = 1
	cfg.WorkerReadyTimeout = 2 * time.Second // the real worker that follows must be ready by then, under -race on a busy machine
	logs := &syncBuffer{}
	m := &Master{Config: cfg, Command: shell(script), Output: io.Discard,
		Logger: slog.New(slog.NewTextHandler(logs, nil))}
	served := make(chan error, 1)
	go func() { served <- m.Serve(l) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		m.Shutdown(ctx)
		if err := <-served; !errors.Is(err, appserver.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	}()
	deadline := time.Now().Add(5 * cfg.WorkerReadyTimeout)
	for p := slotPIDs(m); len(p) < 1 || p[0] == 0; p = slotPIDs(m) {
		if time.Now().After(deadline) {
			t.Fatalf("no worker ready %v after the first hung in its start (worker_ready_timeout %v): it holds its slot\n%s",
				5*cfg.WorkerReadyTimeout, cfg.WorkerReadyTimeout, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if resp, body := do(t, path, "GET", request("GET", "/", "")); resp.StatusCode != 200 || body != "worker" {
		t.Errorf("through the respawned worker: %d %q", resp.StatusCode, body)
	}
}
