package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startupWorkersDuring is a release step that lists the stack's worker
// processes while it runs (its parent is the stack) and whether the app
// server's socket exists yet.
const startupWorkersDuring = `[sh, -c, "sleep 0.5; ps -o pid=,args= --ppid $PPID | awk '$3 == \"appserver-worker\" {print $1}' > during; if test -e run/app.sock; then touch socket-during; fi"]`

// startupDuringPIDs reads the pids the release step listed.
func startupDuringPIDs(t *testing.T, dir string) []int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "during"))
	if err != nil {
		t.Fatalf("the release step did not run: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "socket-during")); err == nil {
		t.Errorf("the app server's socket existed during the release")
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// The first worker process starts while the release runs (it overlaps the
// release and the sockets' opening, for a sooner first 200), before the
// app server's socket exists; it is that process, handed the socket
// after the release, that becomes worker 1 and answers.
func TestStartupWorkerStartsDuringTheRelease(t *testing.T) {
	port := freePort(t)
	dir := writeConfig(t, fmt.Sprintf(`
edge:
  listen: ["127.0.0.1:%d"]
appserver: {app: hello, processes: 2}
release:
  - %s
`, port, startupWorkersDuring))
	p := configStart(t, dir, opsFastExit, "up", "--log-level", "info")
	url := p.serving(60 * time.Second)
	if url == "" {
		t.Fatalf("up did not serve:\n%s", p.output())
	}
	pids := startupDuringPIDs(t, dir)
	if len(pids) != 1 {
		t.Fatalf("worker processes during the release: %v, want the first one alone", pids)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET %s: %d", url, resp.StatusCode)
	}
	// The master logs a worker's "ready" as it reads it, which may be a
	// moment after that worker answered.
	ready := regexp.MustCompile(`appserver: worker ready" tier=appserver worker=1 pid=(\d+)`)
	m := ready.FindStringSubmatch(p.output())
	for deadline := time.Now().Add(10 * time.Second); m == nil && time.Now().Before(deadline); m = ready.FindStringSubmatch(p.output()) {
		time.Sleep(10 * time.Millisecond)
	}
	if m == nil || m[1] != strconv.Itoa(pids[0]) {
		t.Errorf("worker 1 is not the process started during the release (%d):\n%s", pids[0], p.output())
	}
	if strings.Contains(p.output(), "worker died") {
		t.Errorf("a worker died:\n%s", p.output())
	}
	if code := p.stopWith(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.output())
	}
}

// A release that fails stops the worker started during it: up exits 1,
// the worker is gone, and nothing ever listened.
func TestStartupFailedReleaseLeavesNoWorker(t *testing.T) {
	port := freePort(t)
	dir := writeConfig(t, fmt.Sprintf(`
edge:
  listen: ["127.0.0.1:%d"]
appserver: {app: hello, processes: 2}
release:
  - %s
  - [sh, -c, "exit 3"]
`, port, startupWorkersDuring))
	p := configStart(t, dir, opsFastExit, "up")
	code, ok := p.exit(30 * time.Second)
	if !ok || code != 1 {
		t.Fatalf("up after a failed release: exit %d (exited: %v), want 1:\n%s", code, ok, p.output())
	}
	pids := startupDuringPIDs(t, dir)
	if len(pids) != 1 {
		t.Fatalf("worker processes during the release: %v, want the first one alone", pids)
	}
	if syscall.Kill(pids[0], 0) == nil {
		t.Errorf("the worker %d started during the release outlived up", pids[0])
	}
	opsNothingListens(t, port, filepath.Join(dir, "run", "app.sock"))
}
