package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chromium runs Debian's headless Chromium on url with args (--dump-dom,
// --screenshot=...) and returns its standard output.
func chromium(t *testing.T, url string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	profile := t.TempDir()
	all := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
		"--user-data-dir=" + profile, "--window-size=1280,1100", "--hide-scrollbars"}, args...)
	cmd := exec.CommandContext(ctx, "chromium", append(all, url)...)
	cmd.Env = append(os.Environ(), "HOME="+profile)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

var workerRow = regexp.MustCompile(`<tr data-pid="(\d+)">`)

// rowPIDs are the worker rows' pids in a dumped DOM.
func rowPIDs(dom string) []int {
	var pids []int
	for _, m := range workerRow.FindAllStringSubmatch(dom, -1) {
		n, _ := strconv.Atoi(m[1])
		pids = append(pids, n)
	}
	return pids
}

// The status page in a real browser, under load: one row per worker with
// its pid, a screenshot kept as an artefact, and a killed worker replaced
// by its successor's pid at the next refresh.
func TestAdminStatusPageInChromium(t *testing.T) {
	a := adminUp(t, adminWorkersYAML)
	stop := make(chan struct{})
	loaded := make(chan *loadResult, 1)
	go func() { loaded <- load{Addr: a.edge, Conns: 2, Timeout: 10 * time.Second}.run(t, stop, 30*time.Second) }()
	defer func() {
		close(stop)
		if res := <-loaded; res.Failed() != 0 {
			t.Errorf("load during the test: %s", res)
		}
	}()

	st := a.status(t)
	if len(st.Workers) != 2 {
		t.Fatalf("status.json has %d workers, want 2", len(st.Workers))
	}
	// --virtual-time-budget lets the page's script run its first
	// refreshes from /status.json before the DOM is dumped.
	dom := chromium(t, "http://"+a.admin+"/status", "--virtual-time-budget=3000", "--dump-dom")
	pids := rowPIDs(dom)
	if len(pids) != 2 || pids[0] != st.Workers[0].PID || pids[1] != st.Workers[1].PID {
		t.Fatalf("the page shows worker pids %v, status.json %d and %d", pids, st.Workers[0].PID, st.Workers[1].PID)
	}
	for _, want := range []string{"stack status", `id="rate"`, "app", "unix:run/app.sock", "<path"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page has no %q", want)
		}
	}

	shots := t.TempDir()
	if d := os.Getenv("STACK_TEST_ARTIFACTS"); d != "" {
		shots = d
		os.MkdirAll(d, 0o755)
	}
	shot := filepath.Join(shots, "status.png")
	chromium(t, "http://"+a.admin+"/status", "--virtual-time-budget=3000", "--screenshot="+shot)
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 10_000 {
		t.Fatalf("screenshot %s: %v (size %v)", shot, err, fi)
	}
	t.Logf("screenshot: %s", shot)

	// Kill the first worker: the master respawns it, and the page's
	// next refresh shows the new pid in its place.
	victim := pids[0]
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		st = a.status(t)
		if p := st.Workers[0].PID; p != 0 && p != victim && st.Workers[0].State != "starting" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker 1 was not replaced within 15s: %+v", st.Workers)
		}
		time.Sleep(100 * time.Millisecond)
	}
	dom = chromium(t, "http://"+a.admin+"/status", "--virtual-time-budget=3000", "--dump-dom")
	pids = rowPIDs(dom)
	if len(pids) != 2 || pids[0] == victim || pids[0] != st.Workers[0].PID {
		t.Fatalf("after killing pid %d the page shows %v, want %d first", victim, pids, st.Workers[0].PID)
	}
	if !strings.Contains(dom, "worker died") {
		t.Errorf("the page's recent errors do not show the worker's death")
	}
}
