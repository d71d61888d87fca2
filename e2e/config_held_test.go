package e2e

// A respawned worker and a restarted tier child of mode: subprocess load
// the configuration their parent holds, not the file on disk: they read
// it again, so a file edited or broken without a reload reached the next
// respawn unvalidated (a broken one made a crash loop, a changed one left
// workers on different configurations). As nginx and uWSGI fork from
// the configuration in memory, a changed file takes effect on a reload
// (SIGHUP), which validates it first.

import (
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	heldBroken     = "appserver: [this, is, not: a mapping\n"
	heldRequestLog = "appserver: request" // a worker's line per request with log_requests
)

func TestRespawnedWorkersLoadTheHeldConfiguration(t *testing.T) {
	cfg := workersConfig("")
	p, dir, addr := workersStart(t, cfg)
	path := filepath.Join(dir, "stack.yaml")
	// Worker 1 is the early one (internal/earlyworker), started before the
	// configuration was read: it gets the held one with its orders. One
	// that did not would fail its start and be respawned.
	if s, _ := workersReadStats(t, dir); s.Workers[0].RespawnCount != 0 || s.Workers[1].RespawnCount != 0 {
		t.Fatalf("workers respawned at start: %+v\n%s", s.Workers, p.Output())
	}

	// Broken on disk, no reload: a killed worker comes back and serves.
	heldWrite(t, path, heldBroken)
	pids := workersPIDs(t, dir, 2)
	syscall.Kill(pids[1], syscall.SIGKILL)
	heldRespawned(t, dir, pids, 1)
	heldServes(t, addr, 4)
	// A reload refuses it, and the workers keep serving.
	heldReload(t, p, "reload refused")
	heldServes(t, addr, 4)

	// Changed on disk (log_requests), no reload: both killed workers come
	// back on the configuration the stack started with.
	heldWrite(t, path, cfg+"  log_requests: true\n")
	pids = workersPIDs(t, dir, 2)
	syscall.Kill(pids[1], syscall.SIGKILL)
	syscall.Kill(pids[2], syscall.SIGKILL)
	heldRespawned(t, dir, pids, 1, 2)
	heldLogsNoRequest(t, p, addr, "a respawned worker logs requests (the file changed on disk, not reloaded)")

	// A reload takes it, and a worker respawned after it keeps it.
	heldReload(t, p, "chain reload done")
	pids = workersPIDs(t, dir, 2)
	syscall.Kill(pids[1], syscall.SIGKILL)
	heldRespawned(t, dir, pids, 1)
	heldLogsRequests(t, p, addr)
}

// mode: subprocess: the appserver tier child, killed, is started again
// by the supervisor; it loads what the parent holds, and so do its
// workers. A reload reaches it the same way.
func TestRestartedTierChildLoadsTheHeldConfiguration(t *testing.T) {
	cfg := "mode: subprocess\n" + workersConfig("")
	dir := writeConfig(t, cfg)
	p := start(t, dir, "up")
	u, err := url.Parse(p.url())
	if err != nil {
		t.Fatal(err)
	}
	addr, path := u.Host, filepath.Join(dir, "stack.yaml")
	// A tier child that dies within its first 3s (tierStartSecs) failed
	// to start, which stops the stack; one killed later is started again.
	time.Sleep(3500 * time.Millisecond)

	heldWrite(t, path, heldBroken)
	heldKillTier(t, p, dir, "appserver")
	heldServes(t, addr, 4)

	heldWrite(t, path, cfg+"  log_requests: true\n")
	heldKillTier(t, p, dir, "appserver")
	heldLogsNoRequest(t, p, addr, "the restarted tier's workers log requests (the file changed on disk, not reloaded)")

	heldReload(t, p, "chain reload done")
	heldLogsRequests(t, p, addr)
}

// `stack up -c /dev/stdin` with tier children and workers: they once read
// the file again, an empty stdin, so such a file was refused. They load
// what the parent read.
func TestUpFromStdinWithChildren(t *testing.T) {
	cfg := "mode: subprocess\n" + workersConfig("")
	dir := t.TempDir()
	cmd := exec.Command(binary, "up", "-c", "/dev/stdin")
	cmd.Dir, cmd.Env, cmd.Stdin = dir, cleanEnv(), strings.NewReader(cfg)
	p := startCmd(t, cmd, "stack up -c /dev/stdin", nil)
	u, err := url.Parse(p.url())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if heldBothAccept(t, dir) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the workers did not start:\n%s", p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	heldServes(t, u.Host, 2)
	// A reload has nothing to read: refused, rather than the defaults
	// read from an empty stdin.
	heldReload(t, p, "reload refused")
	if !strings.Contains(p.Output(), "a pipe or /dev/stdin is read once") {
		t.Errorf("the refusal does not say why:\n%s", p.Output())
	}
	heldServes(t, u.Host, 2)
}

func heldWrite(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// heldServes makes n requests through the edge; each must be a 200.
func heldServes(t *testing.T, addr string, n int) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	for i := range n {
		resp, err := c.Get("http://" + addr + "/held/" + strconv.Itoa(i))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %s", i, resp.Status)
		}
	}
}

// heldLogsNoRequest makes 4 requests; no worker may log them (why says
// what that would mean).
func heldLogsNoRequest(t *testing.T, p *proc, addr, why string) {
	t.Helper()
	mark := len(p.Output())
	heldServes(t, addr, 4)
	time.Sleep(300 * time.Millisecond) // a worker's line comes through its parent's pipe
	if out := p.Output()[mark:]; strings.Contains(out, heldRequestLog) {
		t.Errorf("%s:\n%s", why, out)
	}
}

// heldLogsRequests makes 4 requests and waits for the workers' 4 lines.
func heldLogsRequests(t *testing.T, p *proc, addr string) {
	t.Helper()
	mark := len(p.Output())
	heldServes(t, addr, 4)
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(p.Output()[mark:], heldRequestLog) != 4 {
		if time.Now().After(deadline) {
			t.Fatalf("not 4 request lines after the reload:\n%s", p.Output()[mark:])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// heldReload sends SIGHUP and waits for want in the output after it.
func heldReload(t *testing.T, p *proc, want string) {
	t.Helper()
	mark := len(p.Output())
	p.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(p.Output()[mark:], want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q after SIGHUP:\n%s", want, p.Output()[mark:])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// heldRespawned waits until each slot of ids has a new accepting worker
// (not its pid in old) and the others still theirs.
func heldRespawned(t *testing.T, dir string, old map[int]int, ids ...int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, ok := heldStats(t, dir)
		fresh := 0
		for _, w := range s.Workers {
			for _, id := range ids {
				if ok && w.ID == id && w.PID != 0 && w.PID != old[id] && w.Accepting == 1 {
					fresh++
				}
			}
		}
		if fresh == len(ids) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("workers %v not respawned within 10s: %+v", ids, s.Workers)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// heldStats reads the stats socket, if it answers (a tier child being
// restarted has none).
func heldStats(t *testing.T, dir string) (workersStats, bool) {
	c, err := net.Dial("unix", filepath.Join(dir, "run", "stats.sock"))
	if err != nil {
		return workersStats{}, false
	}
	c.Close()
	s, _ := workersReadStats(t, dir)
	return s, true
}

// heldBothAccept says whether the stats socket answers with two
// accepting workers.
func heldBothAccept(t *testing.T, dir string) bool {
	s, ok := heldStats(t, dir)
	return ok && len(s.Workers) == 2 && s.Workers[0].Accepting+s.Workers[1].Accepting == 2
}

// heldKillTier SIGKILLs p's tier child and waits until a new one has its
// two workers accepting.
func heldKillTier(t *testing.T, p *proc, dir, tier string) {
	t.Helper()
	pid := heldTierChild(p.cmd.Process.Pid, tier)
	if pid == 0 {
		t.Fatalf("no %s tier child of %d", tier, p.cmd.Process.Pid)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if now := heldTierChild(p.cmd.Process.Pid, tier); now != 0 && now != pid && heldBothAccept(t, dir) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the %s tier child was not restarted with its workers within 20s:\n%s", tier, p.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// heldTierChild is the pid of parent's child running `stack <tier>`, 0 if
// none.
func heldTierChild(parent int, tier string) int {
	for pid, c := range childProcesses(parent) {
		if args := strings.Split(c.cmdline, "\x00"); len(args) > 1 && args[1] == tier {
			return pid
		}
	}
	return 0
}

// The held configuration's memfd grew by one record per reload that
// changed the file (200 reloads of 345 B: 71 KB), in `stack up` and in the
// appserver child, which holds it again for its workers. After 40
// reloads each process's stays under three times the file, and the
// appserver child, killed and started again, loads the last one.
func TestManyReloadsKeepTheHeldConfigurationBounded(t *testing.T) {
	cfg := "mode: subprocess\n" + brkEchoConfig // the echo app in the appserver child
	dir := writeConfig(t, cfg)
	started := time.Now()
	p := start(t, dir, "up")
	u, err := url.Parse(p.url())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "stack.yaml")
	const reloads = 40
	for i := range reloads {
		text := cfg + "# reload " + strconv.Itoa(i) + "\n"
		if i == reloads-1 {
			text += "  log_requests: true\n" // under appserver, brkEchoConfig's last
		}
		heldWrite(t, path, text)
		heldReload(t, p, "msg=reloaded tier=appserver")
	}
	parent := p.cmd.Process.Pid
	pids := []int{parent}
	for pid := range childProcesses(parent) {
		pids = append(pids, pid)
	}
	limit, memfds := int64(3*(len(cfg)+40)+128), 0
	for _, pid := range pids {
		fds, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/fd/*")
		for _, fd := range fds {
			link, _ := os.Readlink(fd)
			if !strings.Contains(link, "memfd:stack-config") {
				continue
			}
			fi, err := os.Stat(fd)
			if err != nil {
				continue
			}
			memfds++
			if fi.Size() > limit {
				t.Errorf("after %d reloads process %d's held configuration (%s) is %d bytes, over %d", reloads, pid, link, fi.Size(), limit)
			}
		}
	}
	if memfds < 2 {
		t.Fatalf("found %d held configurations, want the parent's and the appserver child's", memfds)
	}
	// A tier child that dies within its first 3s stops the stack.
	time.Sleep(time.Until(started.Add(3500 * time.Millisecond)))
	old := heldTierChild(parent, "appserver")
	mark := len(p.Output())
	syscall.Kill(old, syscall.SIGKILL)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if now := heldTierChild(parent, "appserver"); now != 0 && now != old {
			if status, _ := getOnce(u.Host); status == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the appserver child was not started again:\n%s", p.Output())
		}
	}
	// It logs requests, as the last reload says, from its first one on.
	heldServes(t, u.Host, 4)
	for deadline := time.Now().Add(5 * time.Second); strings.Count(p.Output()[mark:], heldRequestLog) < 4; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the restarted appserver child does not log requests (log_requests, the last reload's):\n%s", p.Output()[mark:])
		}
	}
}
