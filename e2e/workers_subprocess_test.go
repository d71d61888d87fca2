package e2e

import (
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// In mode: subprocess the tiers are children of `stack up`: one SIGHUP to
// the parent still reloads both, so the workers are chain-reloaded and the
// edge re-reads its configuration, with no failed request.
func TestWorkersSIGHUPReloadsInSubprocessMode(t *testing.T) {
	dir := writeConfig(t, "mode: subprocess\n"+workersConfig(""))
	p := start(t, dir, "up")
	u, err := url.Parse(p.url())
	if err != nil {
		t.Fatal(err)
	}
	waitFile(t, filepath.Join(dir, "run", "stats.sock")) // the appserver child may start after the edge's announcement
	first := workersPIDs(t, dir, 2)
	stop := make(chan struct{})
	done := make(chan *loadResult)
	go func() { done <- load{Addr: u.Host, Conns: 4}.run(t, stop, 15*time.Second) }()
	time.Sleep(300 * time.Millisecond)
	p.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(p.Output(), "chain reload done") || !strings.Contains(p.Output(), edgeReloaded) {
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP to the parent did not reload both tiers:\n%s", p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	res := <-done
	t.Logf("reload in subprocess mode under load: %s", res)
	if res.Failed() != 0 || res.OK == 0 {
		t.Errorf("requests failed during the reload: %s", res)
	}
	last := workersPIDs(t, dir, 2)
	for id, pid := range first {
		if last[id] == pid {
			t.Errorf("worker %d: pid %d not replaced", id, pid)
		}
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}
}
