package e2e

import (
	"context"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const edgeProcessesYAML = `
run_dir: run
shutdown_timeout: 10s
edge:
  listen: ["127.0.0.1:0"]
  processes: 2
appserver:
  app: echo
  processes: 2
`

// With edge.processes: 2 two edge processes accept on the same socket, as
// nginx's workers: both serve (their requests, labelled process="1" and
// "2" in the parent's /metrics, add up to what the client got), one that
// dies costs only the requests it had in progress while the other goes
// on and the parent starts it again, and a stop ends them all.
func TestEdgeProcessesShareTheListener(t *testing.T) {
	started := time.Now()
	a := adminUp(t, edgeProcessesYAML)
	parent := a.p.cmd.Process.Pid
	first := edgeChildPIDs(t, parent)

	// Both serve: the kernel gives each new connection to one of them.
	stop := make(chan struct{})
	go func() { time.Sleep(time.Second); close(stop) }()
	res := load{Addr: a.edge, Conns: 16}.run(t, stop, 10*time.Second)
	if res.Failed() != 0 || res.OK == 0 {
		t.Fatalf("load through two edge processes: %s", res)
	}
	series := regexp.MustCompile(`(?m)^stack_edge_requests_total\{code="2xx",location="/",method="GET",process="(\d)",tier="edge"\} (\d+)$`)
	var counts map[string]int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, _, expo := adminGet(a.admin, "/metrics")
		counts = map[string]int{}
		sum := 0
		for _, m := range series.FindAllStringSubmatch(expo, -1) {
			n, _ := strconv.Atoi(m[2])
			counts[m[1]] += n
			sum += n
		}
		if sum == res.OK && len(counts) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the parent's /metrics: %v, want %d requests over processes 1 and 2\n%s", counts, res.OK, grepLines(expo, "stack_edge_requests_total"))
		}
	}
	if counts["1"] == 0 || counts["2"] == 0 {
		t.Fatalf("one edge process served everything: %v", counts)
	}
	t.Logf("16 connections, %d requests: %v", res.OK, counts)
	out, errOut, code := run(t, a.dir, "status", "--socket", a.socket)
	if code != 0 || !strings.Contains(out, "edge 1") || !strings.Contains(out, "edge 2") {
		t.Fatalf("stack status does not list both edge processes: %d\n%s%s", code, out, errOut)
	}

	// One stopped (SIGSTOP) leaves the stack ready: the other serves.
	syscall.Kill(first[1], syscall.SIGSTOP)
	code, _, body := adminGet(a.admin, "/readyz")
	syscall.Kill(first[1], syscall.SIGCONT)
	if code != 200 {
		t.Errorf("/readyz with one of two edge processes stopped: %d %s", code, body)
	}

	// One dies under load: its connections' requests in progress fail
	// (at most one each), none is refused (the parent holds the socket),
	// and the other process serves on while the dead one is restarted.
	// (A child that dies in its first 3 s could not start, and stops the stack.)
	time.Sleep(time.Until(started.Add(4 * time.Second)))
	stop = make(chan struct{})
	done := make(chan *loadResult)
	go func() { done <- load{Addr: a.edge, Conns: 16}.run(t, stop, 20*time.Second) }()
	time.Sleep(300 * time.Millisecond)
	if err := syscall.Kill(first[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var again []int
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if again = edgeChildPIDs(t, parent); again[0] != first[0] && again[0] != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the killed edge process was not started again:\n%s", a.p.Output())
		}
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	res = <-done
	t.Logf("edge process %d killed under load: %s", first[0], res)
	if res.Failed() > 16 || res.Failures["refused"] != 0 || res.OK == 0 {
		t.Errorf("more lost than the killed process's requests in progress: %s", res)
	}
	if again[1] != first[1] {
		t.Errorf("the other edge process changed: %d → %d", first[1], again[1])
	}
	// Both serve again.
	stop = make(chan struct{})
	go func() { time.Sleep(500 * time.Millisecond); close(stop) }()
	if res := (load{Addr: a.edge, Conns: 16}.run(t, stop, 10*time.Second)); res.Failed() != 0 || res.OK == 0 {
		t.Errorf("after the restart: %s", res)
	}

	if code := a.p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit status %d after SIGTERM:\n%s", code, a.p.Output())
	}
	for _, pid := range again {
		if alive(pid) {
			t.Errorf("edge process %d outlived the stop", pid)
		}
	}
}

// edgeChildPIDs are the pids of parent's edge children 1 and 2 (0 for one
// not running), told apart by their admin sockets.
func edgeChildPIDs(t *testing.T, parent int) []int {
	t.Helper()
	pids := make([]int, 2)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
			if err != nil {
				continue
			}
			fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
			if len(fields) < 2 || fields[1] != strconv.Itoa(parent) || fields[0] == "Z" {
				continue
			}
			cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			for i := range pids {
				if strings.Contains(string(cmdline), "admin-edge-"+strconv.Itoa(i+1)+".sock") {
					pids[i] = pid
				}
			}
		}
		if pids[0] != 0 && pids[1] != 0 {
			return pids
		}
		if time.Now().After(deadline) {
			return pids
		}
		clear(pids)
	}
}

// A stop tells every edge process at once and they drain together: one
// after the other, the later ones went on taking requests on their kept
// connections while the first drained, and the deadline cut those.
func TestEdgeProcessesDrainTogether(t *testing.T) {
	dir := writeConfig(t, strings.Replace(edgeProcessesYAML, "shutdown_timeout: 10s", "shutdown_timeout: 3s", 1))
	p := start(t, dir, "up")
	u := p.url()
	addr := strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/")
	time.Sleep(3500 * time.Millisecond) // past the children's start-up
	stop := make(chan struct{})
	done := make(chan *loadResult)
	slow := func(int, int) string { return "GET /delay/2 HTTP/1.1\r\nHost: " + addr + "\r\n\r\n" }
	go func() { done <- load{Addr: addr, Conns: 8, Request: slow}.run(t, stop, 15*time.Second) }()
	time.Sleep(500 * time.Millisecond)
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit status %d after SIGTERM:\n%s", code, p.Output())
	}
	close(stop)
	res := <-done
	t.Logf("8 connections of 2 s requests, stopped 0.5 s in: %s", res)
	// After the drain the addresses refuse: those failures are the stop's.
	if res.OK < 8 || res.Failures["eof"] != 0 || res.Failures["reset"] != 0 || res.Failures["timeout"] != 0 {
		t.Errorf("requests in progress were cut by the stop: %s\n%s", res, p.Output())
	}
}

// Another program's SO_REUSEPORT socket on the address: the start is
// refused (address in use), not a group shared with it.
func TestEdgeProcessesRefuseAPortInUse(t *testing.T) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, 0xf /* SO_REUSEPORT */, 1) })
		return serr
	}}
	other, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	dir := writeConfig(t, strings.Replace(edgeProcessesYAML, "127.0.0.1:0", other.Addr().String(), 1))
	_, errOut, code := run(t, dir, "up")
	if code != 1 || !strings.Contains(errOut, "address already in use") {
		t.Fatalf("stack up on a port another program holds: exit %d\n%s", code, errOut)
	}
}
