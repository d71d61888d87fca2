package admin

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The page's script refreshes it from /status.json: in a real headless
// Chromium, a worker whose pid changed after the server rendered the page
// shows its new pid once the script has polled.
func TestStatusPageRefreshesFromStatusJSON(t *testing.T) {
	var calls atomic.Int32
	src := Sources{Workers: func() []Worker {
		pid := 111 // what the server renders
		if calls.Add(1) > 1 {
			pid = 222 // what the first poll of status.json reads: the worker was replaced
		}
		return []Worker{{ID: 1, PID: pid, State: "idle", Requests: 7}}
	}}
	s := New(Config{}, src, nil, quiet)
	srv := httptest.NewServer(s.handler(false))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	profile := t.TempDir()
	cmd := exec.CommandContext(ctx, "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--user-data-dir="+profile, "--virtual-time-budget=2500", "--dump-dom", srv.URL+"/status")
	cmd.Env = append(os.Environ(), "HOME="+profile)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	dom := string(out)
	if !strings.Contains(dom, `<tr data-pid="222">`) || strings.Contains(dom, `data-pid="111"`) {
		t.Fatalf("after the script's refresh the page shows:\n%s", dom[strings.Index(dom, `<tbody id="workers">`):][:400])
	}
	if calls.Load() < 2 {
		t.Fatalf("status.json was never polled")
	}
}
