package cli

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stack-web/stack/config"
)

// Found by running the binary: a release step that succeeds but leaves a
// process in the background (it holds the step's output) failed `up`
// after shutdown_timeout with "exec: WaitDelay expired before I/O
// complete". The step's exit status decides; what it left in its process
// group is killed, as the README says.
func TestReleaseStepThatLeavesABackgroundProcessSucceeds(t *testing.T) {
	var stderr bytes.Buffer
	c := &cmdEnv{stderr: &stderr, logger: slog.New(slog.NewTextHandler(&stderr, nil))}
	f := new(config.Default())
	f.Edge.Listen, f.Admin.Listen = []string{"127.0.0.1:0"}, ""
	f.ShutdownTimeout = 20 * time.Second
	pidFile := filepath.Join(t.TempDir(), "bg.pid")
	f.Release = [][]string{{"sh", "-c", "sleep 60 & echo $! > " + pidFile + "; echo left-one-behind"}}
	start := time.Now()
	if err := c.runRelease(f); err != nil {
		t.Fatalf("runRelease: %v", err)
	}
	t.Logf("the release took %v", time.Since(start))
	if !strings.Contains(stderr.String(), "[release] left-one-behind") {
		t.Errorf("the step's output is not shown:\n%s", stderr.String())
	}
	b, _ := os.ReadFile(pidFile)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("background pid: %q", b)
	}
	for deadline := time.Now().Add(5 * time.Second); syscall.Kill(pid, 0) == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatal("the step's background process outlived the release")
		}
	}
}
