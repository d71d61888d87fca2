package e2e

// Worker lifecycles: recycling (max_requests, max_lifetime, reload_on_rss),
// chain reloads, cheaper mode, a crash loop, and workers run as another user.

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// max_requests: 100 under load: no failed request; the figures with and
// without recycling are logged (no timed assertion).
func TestWorkersMaxRequestsRecycling(t *testing.T) {
	measure := func(extra string) (*loadResult, float64, int) {
		p, _, addr := workersStart(t, workersConfig(extra))
		t0 := time.Now()
		res := load{Addr: addr, Conns: 8}.run(t, nil, 4*time.Second)
		rps := float64(res.Total()) / time.Since(t0).Seconds()
		if code := p.stop(syscall.SIGTERM); code != 0 {
			t.Errorf("exit %d", code)
		}
		return res, rps, strings.Count(p.Output(), "worker replaced")
	}
	base, baseRPS, _ := measure("")
	rec, recRPS, replaced := measure("  max_requests: 100\n")
	t.Logf("no recycling: %.0f req/s (%s); max_requests 100: %.0f req/s, %d recycles (%s); ratio %.2f",
		baseRPS, base, recRPS, replaced, rec, recRPS/baseRPS)
	if rec.Failed() != 0 || base.Failed() != 0 {
		t.Errorf("failed requests: without recycling %d, with %d", base.Failed(), rec.Failed())
	}
	if replaced < 4 {
		t.Errorf("only %d recycles for %d requests at max_requests 100", replaced, rec.Total())
	}
}

// SIGHUP under load chain-reloads every worker with no failed request.
func TestWorkersSIGHUPChainReload(t *testing.T) {
	p, dir, addr := workersStart(t, workersConfig(""))
	first := workersPIDs(t, dir, 2)
	stop := make(chan struct{})
	done := make(chan *loadResult)
	go func() { done <- load{Addr: addr, Conns: 8}.run(t, stop, 15*time.Second) }()
	const reloads = 10
	for i := range reloads {
		time.Sleep(300 * time.Millisecond)
		p.cmd.Process.Signal(syscall.SIGHUP)
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(p.Output(), "chain reload done") < i+1 {
			if time.Now().After(deadline) {
				t.Fatalf("reload %d did not finish:\n%s", i+1, p.Output())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	res := <-done
	last := workersPIDs(t, dir, 2)
	t.Logf("%d reloads under load: %s", reloads, res)
	if res.Failed() != 0 || res.OK == 0 {
		t.Errorf("requests failed during reloads: %s", res)
	}
	for id, pid := range first {
		if last[id] == pid || alive(pid) {
			t.Errorf("worker %d: pid %d not replaced (now %d)", id, pid, last[id])
		}
	}
}

// A binary that cannot boot: the reload stops, the old workers keep
// serving, and the log says why.
func TestWorkersReloadRefusesABrokenBinary(t *testing.T) {
	dir := writeConfig(t, workersConfig("  worker_ready_timeout: 3s\n"))
	bin := filepath.Join(dir, "stack")
	data, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	p := startBinary(t, dir, bin, "up")
	u, _ := url.Parse(p.url())
	before := workersPIDs(t, dir, 2)

	// Deploy a binary that exits at once, as a broken build would.
	broken := filepath.Join(dir, "stack.new")
	os.WriteFile(broken, []byte("#!/bin/sh\necho 'broken build' >&2\nexit 3\n"), 0o755)
	if err := os.Rename(broken, bin); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Output(), "reload failed") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload failure logged:\n%s", p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := p.Output()
	if !strings.Contains(out, "exited before it was ready") || !strings.Contains(out, "exit status 3") {
		t.Errorf("the log does not say why the reload failed:\n%s", out)
	}
	after := workersPIDs(t, dir, 2)
	for id, pid := range before {
		if after[id] != pid {
			t.Errorf("worker %d: pid %d replaced by %d although the reload failed", id, pid, after[id])
		}
	}
	res := load{Addr: u.Host, Conns: 4}.run(t, nil, time.Second)
	if res.Failed() != 0 || res.OK == 0 {
		t.Errorf("old workers not serving after the refused reload: %s", res)
	}
}

// startBinary is start with another binary (a copy the test may replace).
func startBinary(t *testing.T, dir, bin string, args ...string) *proc {
	t.Helper()
	saved := binary
	binary = bin
	defer func() { binary = saved }()
	return start(t, dir, args...)
}

// Cheaper mode: with min_processes 1 of 2 and threads 1, the second worker
// starts once the first is busy.
func TestWorkersCheaperModeAddsAWorkerWhenBusy(t *testing.T) {
	dir := writeConfig(t, workersConfig("  min_processes: 1\n  threads: 1\n"))
	p := start(t, dir, "up")
	u, _ := url.Parse(p.url())
	workersPIDs(t, dir, 1)
	s, _ := workersReadStats(t, dir)
	statuses := func(s workersStats) (out []string) {
		for _, w := range s.Workers {
			out = append(out, w.Status)
		}
		return out
	}
	if st := statuses(s); len(st) != 2 || st[1] != "cheap" {
		t.Fatalf("statuses at start %v, want the second worker cheap", st)
	}
	res := load{Addr: u.Host, Conns: 3, Request: func(int, int) string {
		return "GET /delay/0.2 HTTP/1.1\r\nHost: x\r\n\r\n"
	}}.run(t, nil, 3*time.Second)
	s, _ = workersReadStats(t, dir)
	t.Logf("after load (%s): %v", res, statuses(s))
	if !strings.Contains(p.Output(), "cheaper: every worker is busy; starting one more") {
		t.Errorf("no worker added under load:\n%s", p.Output())
	}
	if s.Workers[1].Status == "cheap" || s.Workers[1].Requests == 0 {
		t.Errorf("second worker %+v, want it serving", s.Workers[1])
	}
	if res.Failed() != 0 {
		t.Errorf("failed requests: %s", res)
	}
}

// Started as root with appserver.user, the workers run as that user and
// the edge still reaches them.
func TestWorkersRunAsUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root") // the test machine runs as root
	}
	dir := writeConfig(t, workersConfig("  user: nobody\n  group: nogroup\n"))
	// The workers read the same configuration file and run the same
	// binary, which must be theirs to read, as in /usr/local/bin.
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	data, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "stack")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	p := startBinary(t, dir, bin, "up")
	u, _ := url.Parse(p.url())
	addr := u.Host
	pids := workersPIDs(t, dir, 2)
	for id, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "Uid:") && !strings.Contains(line, "65534") {
				t.Errorf("worker %d runs with %s, want nobody (65534)", id, line)
			}
		}
	}
	res := load{Addr: addr, Conns: 2}.run(t, nil, 500*time.Millisecond)
	if res.Failed() != 0 || res.OK == 0 {
		t.Errorf("through the edge: %s\n%s", res, p.Output())
	}
}

// max_lifetime and reload_on_rss recycle workers too, with no failed
// request.
func TestWorkersMaxLifetimeAndRSSRecycle(t *testing.T) {
	for _, tc := range []struct{ extra, reason string }{
		{"  max_lifetime: 1s\n", "reason=max_lifetime"},
		{"  reload_on_rss: 1\n", "reason=reload_on_rss"}, // every worker is over 1 MiB
	} {
		t.Run(tc.reason, func(t *testing.T) {
			p, _, addr := workersStart(t, workersConfig(tc.extra))
			res := load{Addr: addr, Conns: 4}.run(t, nil, 3500*time.Millisecond)
			n := strings.Count(p.Output(), tc.reason)
			t.Logf("%d recycles (%s) in 3.5s: %s", n, tc.reason, res)
			if n < 2 {
				t.Errorf("%d recycles logged with %s, want at least 2", n, tc.reason)
			}
			if res.Failed() != 0 || res.OK == 0 {
				t.Errorf("requests failed while recycling: %s", res)
			}
		})
	}
}

// A worker that dies while the binary on disk cannot start: the master
// retries with growing pauses (a crash loop, logged) instead of spinning,
// the other worker keeps serving, and the slot recovers once the binary is
// good again. A new worker that hangs instead of starting is killed at
// worker_ready_timeout and the reload is refused.
func TestWorkersCrashLoopAndReadyTimeout(t *testing.T) {
	dir := writeConfig(t, workersConfig("  worker_ready_timeout: 1s\n"))
	bin := filepath.Join(dir, "stack")
	good, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	deploy := func(data []byte) {
		tmp := bin + ".new"
		if err := os.WriteFile(tmp, data, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, bin); err != nil {
			t.Fatal(err)
		}
	}
	deploy(good)
	p := startBinary(t, dir, bin, "up")
	u, _ := url.Parse(p.url())
	pids := workersPIDs(t, dir, 2)

	// A binary that hangs: the reload is refused at worker_ready_timeout.
	deploy([]byte("#!/bin/sh\nexec sleep 30\n"))
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, p, "was not ready within worker_ready_timeout (1s)", 10*time.Second)

	// A binary that exits, and a worker killed: a crash loop.
	deploy([]byte("#!/bin/sh\nexit 3\n"))
	syscall.Kill(pids[1], syscall.SIGKILL)
	waitLog(t, p, "crash loop", 5*time.Second)
	res := load{Addr: u.Host, Conns: 2}.run(t, nil, 1500*time.Millisecond)
	if res.Failed() != 0 || res.OK == 0 {
		t.Errorf("the other worker did not keep serving: %s", res)
	}
	spawns := strings.Count(p.Output(), "died before it was ready")
	if spawns > 6 {
		t.Errorf("%d failed starts in ~1.5s: no pause between them", spawns)
	}

	deploy(good)
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, _ := workersReadStats(t, dir)
		if s.Workers[0].PID != 0 && s.Workers[0].PID != pids[1] && s.Workers[0].Accepting == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker 1 not back after the binary was fixed:\n%s", p.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitLog waits until p has logged want.
func waitLog(t *testing.T, p *proc, want string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !strings.Contains(p.Output(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q logged within %v:\n%s", want, limit, p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
