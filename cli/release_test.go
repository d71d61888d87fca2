package cli

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stack-web/stack/config"
)

// Found by running the binary: with admin.listen on a port already in
// use, `stack up` ran the release (a migration) and only then failed to
// bind. A port in use stops it before the release changes anything.
func TestReleaseDoesNotRunWhenAPortIsInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	marker := filepath.Join(t.TempDir(), "released")
	var stderr bytes.Buffer
	c := &cmdEnv{stderr: &stderr, logger: slog.New(slog.NewTextHandler(&stderr, nil))}
	for _, key := range []string{"admin.listen", "edge.listen[1]"} {
		f := new(config.Default())
		f.Release = [][]string{{"touch", marker}}
		f.Edge.Listen = []string{"127.0.0.1:0"}
		f.Admin.Listen = "127.0.0.1:0"
		if key == "admin.listen" {
			f.Admin.Listen = taken.Addr().String()
		} else {
			f.Edge.Listen = append(f.Edge.Listen, taken.Addr().String())
		}
		err := c.runRelease(f)
		if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "address already in use") {
			t.Errorf("%s in use: runRelease: %v, want the key and the reason", key, err)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("%s in use: the release ran", key)
		}
	}
	// Free ports: the release runs.
	f := new(config.Default())
	f.Release = [][]string{{"touch", marker}}
	f.Edge.Listen, f.Admin.Listen = []string{"127.0.0.1:0"}, ""
	if err := c.runRelease(f); err != nil {
		t.Fatalf("runRelease: %v\n%s", err, stderr.String())
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the release did not run: %v", err)
	}
}

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
