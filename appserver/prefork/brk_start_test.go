package prefork

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stack-web/stack/appserver"
)

// Found by sending SIGHUP to `stack up` 20 ms after its exec: the reload
// ran before Start had handed the prespawned worker its socket, so the
// replacement it started was one more worker waiting for a socket (the
// master had none yet), and Start handed the socket only to slot 1's
// current worker. The replacement never became ready: the reload failed
// after worker_ready_timeout (30 s by default), a useless process alive
// all along. Start hands the socket to every worker waiting for one.
func TestBrkReloadBeforeStartReplacesTheWorkers(t *testing.T) {
	t.Setenv("APPSERVER_TEST_WORKER", "1")
	path := filepath.Join(t.TempDir(), "app.sock")
	cfg := appserver.DefaultConfig()
	cfg.Processes = 2
	cfg.WorkerReadyTimeout = 20 * time.Second
	logs := &syncBuffer{}
	m := &Master{Config: cfg, Command: []string{os.Args[0]}, Logger: slog.New(slog.NewTextHandler(logs, nil)), Output: io.Discard}
	if err := m.Prespawn(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.Shutdown(ctx)
	}()
	reloaded := make(chan error, 1)
	go func() { reloaded <- m.Reload() }()
	// The reload's replacement for slot 1 is started before the socket.
	deadline := time.Now().Add(10 * time.Second)
	for {
		m.mu.Lock()
		n := len(m.live)
		m.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reload started no replacement\n%s", logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	l, err := appserver.Listen("unix:"+path, 0o660)
	if err != nil {
		t.Fatal(err)
	}
	go m.Serve(l)
	start := time.Now()
	select {
	case err := <-reloaded:
		if err != nil {
			t.Fatalf("Reload: %v\n%s", err, logs)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("the reload begun before Start did not end 15 s after it\n%s", logs)
	}
	t.Logf("reload done %v after Start", time.Since(start).Round(time.Millisecond))
	if resp, body := do(t, path, "GET", request("GET", "/", "")); resp.StatusCode != 200 || body != "worker" {
		t.Errorf("after the reload: %d %q", resp.StatusCode, body)
	}
}
