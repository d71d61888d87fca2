package prefork

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/appserver"
)

// TestShutdownPastItsDeadlineLetsIdleWorkersExit: when the edge used the
// whole shutdown_timeout (a client that never sends its body), the
// appserver's stop starts with its deadline over. A worker serving a
// request is killed at once; an idle one must still exit by itself
// (status 0, its app closed), not be killed and logged as busy.
func TestShutdownPastItsDeadlineLetsIdleWorkersExit(t *testing.T) {
	path, l := workerSocket(t)
	cfg := appserver.DefaultConfig()
	cfg.Processes = 2
	cfg.WorkerReadyTimeout = 10 * time.Second
	m := &Master{Config: cfg, Command: []string{os.Args[0]}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Output: io.Discard}
	go m.Serve(l)
	waitPIDs(t, m, func([]int) bool { return true })
	go rawExchange(t, path, request("GET", "/stuck", ""))
	// Both workers have reported: one busy, one idle.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		m.mu.Lock()
		idle, busy := 0, 0
		for w := range m.live {
			if w.counters.Busy > 0 {
				busy++
			} else if !w.idleSince.IsZero() {
				idle++
			}
		}
		m.mu.Unlock()
		if idle == 1 && busy == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no busy and idle worker after 10s: %d busy, %d idle", busy, idle)
		}
	}
	var handles []*workerHandle
	m.mu.Lock()
	for w := range m.live {
		handles = append(handles, w)
	}
	m.mu.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the edge's stop used the whole grace period
	err := m.Shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "1 workers still busy were killed") {
		t.Errorf("Shutdown: %v, want the one busy worker killed", err)
	}
	statuses := map[string]int{}
	for _, w := range handles {
		<-w.exited
		statuses[w.status]++
	}
	if statuses["exit status 0"] != 1 || statuses["signal: killed"] != 1 {
		t.Errorf("exit statuses %v, want the idle worker's exit status 0 and the busy one killed", statuses)
	}
}
