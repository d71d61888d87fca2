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

// The first worker starts alone, the others once it is ready or gone. One
// that hangs in its start (an app's init blocked on something, a stopped
// process) neither: the others never started and nothing was ever served.
// After worker_ready_timeout the others start anyway.
func TestBrkRawHungFirstWorkerDoesNotHoldTheOthersBack(t *testing.T) {
	path, l, shell := scriptedWorkers(t)
	// The first process started hangs (sleep holds descriptors 3 and 4 and
	// never says "ready"); every later one is a real worker.
	script := `if mkdir "$1/first" 2>/dev/null; then exec sleep 3600; fi; exec "$0"`
	cfg := appserver.DefaultConfig()
	cfg.Processes = 2
	cfg.WorkerReadyTimeout = time.Second
	m := &Master{Config: cfg, Command: shell(script), Output: io.Discard,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	served := make(chan error, 1)
	go func() { served <- m.Serve(l) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		m.Shutdown(ctx) // kills the hung one at its deadline
		if err := <-served; !errors.Is(err, appserver.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	}()
	deadline := time.Now().Add(5 * cfg.WorkerReadyTimeout)
	for p := slotPIDs(m); len(p) < 2 || p[1] == 0; p = slotPIDs(m) {
		if time.Now().After(deadline) {
			t.Fatalf("worker 2 not started %v after the first hung in its start (worker_ready_timeout %v)", 5*cfg.WorkerReadyTimeout, cfg.WorkerReadyTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if resp, body := do(t, path, "GET", request("GET", "/", "")); resp.StatusCode != 200 || body != "worker" {
		t.Errorf("through worker 2: %d %q", resp.StatusCode, body)
	}
}
