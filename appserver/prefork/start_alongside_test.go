package prefork

import (
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stack-web/stack/appserver"
)

func TestAlongside(t *testing.T) {
	first := &workerHandle{}
	for _, c := range []struct {
		first             *workerHandle
		slots, cpus, want int
	}{
		{first, 2, 2, 1}, // polls' bench: the second worker starts with the first
		{first, 4, 2, 1},
		{first, 4, 8, 3},
		{first, 2, 1, 0}, // one CPU: the first starts alone
		{first, 1, 8, 0},
		{nil, 4, 1, 3},                        // no first worker: nothing to wait for
		{&workerHandle{early: true}, 2, 2, 0}, // an early first worker: the others wait for it
		{&workerHandle{early: true}, 4, 8, 0},
	} {
		if got := alongside(c.first, c.slots, c.cpus); got != c.want {
			t.Errorf("alongside(first=%v, %d slots, %d CPUs) = %d, want %d", c.first != nil, c.slots, c.cpus, got, c.want)
		}
	}
	if got := alongside(first, 64, 0); got != min(63, max(0, min(runtime.NumCPU(), runtime.GOMAXPROCS(0))-1)) {
		t.Errorf("alongside with cpus 0 = %d, want this machine's CPUs - 1", got)
	}
	// A container's CPU limit (which GOMAXPROCS follows) bounds it, not
	// the node's CPU count: on a 32-core node limited to 1 CPU, the first
	// worker starts alone.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	if got := alongside(first, 64, 0); got != 0 {
		t.Errorf("alongside with GOMAXPROCS 1 = %d, want 0", got)
	}
}

// With two CPUs, worker 2 starts beside the first, not once the first is
// ready: here the first of the two processes to start becomes a worker
// only once another one has started, which, if the second waited for the
// first to be ready, would take worker_ready_timeout (a minute).
func TestMasterStartsOnePerSpareCPUWithTheFirst(t *testing.T) {
	path, l, shell := scriptedWorkers(t)
	script := `if mkdir "$1/first" 2>/dev/null; then
	while [ ! -e "$1/second" ]; do sleep 0.01; done
else
	: >"$1/second"
fi
exec "$0"`
	cfg := appserver.DefaultConfig()
	cfg.Processes = 2
	cfg.WorkerReadyTimeout = time.Minute
	m := &Master{Config: cfg, Command: shell(script), Output: io.Discard,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), cpus: 2}
	served := make(chan error, 1)
	go func() { served <- m.Serve(l) }()
	defer stopMaster(t, m, served)
	waitPIDs(t, m, func([]int) bool { return true }) // 10s, far below worker_ready_timeout
	if resp, body := do(t, path, "GET", request("GET", "/", "")); resp.StatusCode != 200 || body != "worker" {
		t.Errorf("through the workers: %d %q", resp.StatusCode, body)
	}
}

// scriptedWorkers makes a socket for a master whose workers are started
// through a shell script (tests that make one process in a start hang or
// wait): shell(script) is the Command, and the script gets this test
// binary as $0 (exec "$0" makes a real worker) and a fresh folder as $1.
func scriptedWorkers(t *testing.T) (path string, l net.Listener, shell func(script string) []string) {
	t.Helper()
	t.Setenv("APPSERVER_TEST_WORKER", "1")
	dir := t.TempDir()
	path = filepath.Join(dir, "app.sock")
	l, err := appserver.Listen("unix:"+path, 0o660)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return path, l, func(script string) []string { return []string{"/bin/sh", "-c", script, exe, dir} }
}
