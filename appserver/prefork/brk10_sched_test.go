package prefork

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/appserver"
)

// schedIdle is SCHED_IDLE (linux/sched.h).
const schedIdle = 5

// A stack its operator runs under another policy than the normal one
// (chrt --idle, systemd's CPUSchedulingPolicy=idle or a real-time one)
// has workers that inherit it: the chooser must leave it alone. It
// switched them to SCHED_BATCH at their first tick of one-shot traffic
// (and to the normal policy behind the edge), raising an idle-class
// stack's workers to a normal share of the CPU.
func TestBrk10WorkerKeepsAnOperatorsPolicy(t *testing.T) {
	t.Setenv("APPSERVER_TEST_WORKER", "1")
	path := filepath.Join(t.TempDir(), "app.sock")
	l, err := appserver.Listen("unix:"+path, 0o660)
	if err != nil {
		t.Fatal(err)
	}
	cfg := appserver.DefaultConfig()
	cfg.Processes = 1
	m := &Master{Config: cfg, Command: []string{os.Args[0]}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Output: io.Discard}
	// The master runs under SCHED_IDLE while it starts its worker, as
	// under `chrt --idle 0 stack appserver`; this test process gets its
	// normal policy back once the worker runs.
	if err := setSchedPolicy(schedIdle); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := setSchedPolicy(schedNormal); err != nil {
				t.Error(err)
			}
		}
	}
	defer restore()
	served := make(chan error, 1)
	go func() { served <- m.Serve(l) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		<-served
	}()
	pid := waitPIDs(t, m, func(p []int) bool { return len(p) == 1 })[0]
	restore()
	if p := threadPolicies(t, pid); strings.Trim(p, "5 ") != "" {
		t.Fatalf("the worker started with policies %s, want all SCHED_IDLE (5)", p)
	}
	// One request per connection, from 8 clients at once, for a second:
	// many ticks that each see enough of it to choose SCHED_BATCH.
	oneShot := request("GET", "/", "")
	for end := time.Now().Add(time.Second); time.Now().Before(end); {
		parallel(8, func(int) {
			for range 4 {
				if resp, _ := do(t, path, "GET", oneShot); resp.StatusCode != 200 {
					t.Errorf("GET /: %d", resp.StatusCode)
				}
			}
		})
		if t.Failed() {
			t.FailNow()
		}
	}
	if p := threadPolicies(t, pid); strings.Trim(p, "5 ") != "" {
		t.Errorf("after one-shot traffic the worker's threads run policies %s, want all SCHED_IDLE (5), as started", p)
	}
}
