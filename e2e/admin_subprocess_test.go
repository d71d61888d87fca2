package e2e

import (
	"context"
	"net"
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

// In mode: subprocess the parent's admin gathers the tier children's
// metrics (labelled with the tier), workers and readiness through their
// admin sockets, and passes a scaling request on to the appserver child.
func TestAdminSubprocessGathersTheChildren(t *testing.T) {
	a := adminUp(t, "mode: subprocess\n"+adminWorkersYAML)
	const n = 25
	for i := range n {
		if code, _, _ := get(t, "http://"+a.edge+"/r"+strconv.Itoa(i)); code != http.StatusOK {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	series := regexp.MustCompile(`(?m)^stack_edge_requests_total\{code="2xx",location="/",method="GET",tier="edge"\} (\d+)$`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, expo := adminGet(a.admin, "/metrics")
		m := series.FindStringSubmatch(expo)
		if m != nil && m[1] == strconv.Itoa(n) {
			if !strings.Contains(expo, `stack_appserver_workers{state="idle",tier="appserver"}`) || !strings.Contains(expo, "\ngo_goroutines ") {
				t.Fatalf("the parent's /metrics lacks the appserver child's or its own metrics:\n%s", grepLines(expo, "stack_appserver_workers"))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the parent's /metrics: %v, want %d requests from the edge child\n%s", m, n, grepLines(expo, "stack_edge_requests_total"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	st := a.status(t)
	if !st.Ready || len(st.Workers) != 2 || st.Workers[0].PID == 0 {
		t.Fatalf("status through the children: %+v", st)
	}
	out, errOut, code := run(t, a.dir, "status", "--socket", a.socket)
	if code != 0 || !strings.Contains(out, "child process pid") {
		t.Fatalf("stack status: %d\n%s%s", code, out, errOut)
	}
	req, _ := http.NewRequest("POST", "http://admin/workers/remove", nil)
	resp, err := unixClient(a.socket).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /workers/remove through the parent: %d", resp.StatusCode)
	}
	// The worker stops after the answer: on a busy machine the status may
	// still say idle for a moment.
	for stop := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		st := a.status(t)
		if st.Workers[1].State == "cheap" {
			break
		}
		if time.Now().After(stop) {
			t.Fatalf("after /workers/remove: %+v", st.Workers)
		}
	}
}

// unixClient is an HTTP client of a Unix socket.
func unixClient(path string) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}}}
}

// A tier child killed (SIGKILL) left run/admin-<tier>.sock behind when the
// stack stopped before the child's restart: only the child removed it, as
// it stopped. The parent removes it once its children are gone. A start
// that finds such a stale socket (nobody answers) removes it and binds.
func TestSubprocessKilledChildLeavesNoAdminSocket(t *testing.T) {
	dir := writeConfig(t, "mode: subprocess\nrun_dir: run\nedge:\n  listen: [\"127.0.0.1:0\"]\nappserver:\n  app: hello\n")
	run := filepath.Join(dir, "run")
	if err := os.Mkdir(run, 0o700); err != nil {
		t.Fatal(err)
	}
	tiers := []string{"edge", "appserver"}
	for _, tier := range tiers { // what a killed child of the last run left
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(run, "admin-"+tier+".sock"), Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		l.SetUnlinkOnClose(false)
		l.Close()
	}
	started := time.Now()
	p := start(t, dir, "up", "--set", "admin.socket=run/admin.sock")
	admin := unixClient(filepath.Join(run, "admin.sock"))
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := admin.Get("http://admin/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not 200 over the stale sockets' paths:\n%s", p.Output())
		}
	}
	// A child that dies within its start-up (3s) stops the stack; past
	// it, the child is started again after a back-off, which the stop
	// comes within.
	time.Sleep(time.Until(started.Add(3500 * time.Millisecond)))
	pid := heldTierChild(p.cmd.Process.Pid, "edge")
	if pid == 0 {
		t.Fatalf("no edge child:\n%s", p.Output())
	}
	syscall.Kill(pid, syscall.SIGKILL)
	for syscall.Kill(pid, 0) == nil { // until its parent has reaped it
		time.Sleep(time.Millisecond)
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit status %d after SIGTERM:\n%s", code, p.Output())
	}
	for _, tier := range tiers {
		if _, err := os.Lstat(filepath.Join(run, "admin-"+tier+".sock")); err == nil {
			t.Errorf("run/admin-%s.sock is left after the stop:\n%s", tier, p.Output())
		}
	}
}
