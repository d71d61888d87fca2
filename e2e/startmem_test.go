package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// A request that reaches the edge while the workers are still starting
// waits in the appserver socket's backlog and is answered 200 by the
// first worker ready, never 502: `stack up` binds the app socket before
// the edge's and before any worker starts, so the edge's connect always
// succeeds. Clients dial from before the start; each sends one request on
// the first connection the edge accepts and never retries it.
func TestStartupRequestDuringWorkerStartIs200(t *testing.T) {
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	dir := writeConfig(t, fmt.Sprintf(`edge: {listen: ["%s"], access_log: "off"}
appserver: {app: hello, processes: 2}
admin: {listen: ""}
`, addr))
	const clients = 8
	type answer struct {
		status string
		sent   time.Time
		err    error
	}
	answers := make(chan answer, clients)
	begin := make(chan struct{})
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-begin
			deadline := time.Now().Add(60 * time.Second)
			for time.Now().Before(deadline) {
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil { // not listening yet
					time.Sleep(time.Millisecond)
					continue
				}
				defer c.Close()
				sent := time.Now()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				_, err = fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", addr)
				var status string
				if err == nil {
					status, err = bufio.NewReader(c).ReadString('\n')
				}
				answers <- answer{strings.TrimSpace(status), sent, err}
				return
			}
			answers <- answer{err: fmt.Errorf("the edge did not listen within 60s")}
		}()
	}
	cmd := exec.Command(binary, "up", "--log-level", "info")
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	close(begin)
	started := time.Now()
	p := startCmd(t, cmd, "stack up", nil)
	wg.Wait()
	close(answers)
	var first time.Time
	for a := range answers {
		if a.err != nil || !strings.HasPrefix(a.status, "HTTP/1.1 200") {
			t.Errorf("a request sent %v after the start got %q, %v; want 200", a.sent.Sub(started).Round(time.Millisecond), a.status, a.err)
		}
		if first.IsZero() || a.sent.Before(first) {
			first = a.sent
		}
	}
	// How the requests fell relative to the workers' start, for the log:
	// the master logs each worker's "ready".
	ready := waitLine(t, p, regexp.MustCompile(`appserver: worker ready`), 30*time.Second)
	t.Logf("first request sent %v after the exec; the first worker reported ready %v after it (the first request waited in the backlog if earlier)",
		first.Sub(started).Round(time.Millisecond), ready.Sub(started).Round(time.Millisecond))
}

// waitLine waits until p's output has a line matching re, and returns
// when this test saw it (at most the time it was written, plus a poll).
func waitLine(t *testing.T, p *proc, re *regexp.Regexp, limit time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !re.MatchString(p.Output()) {
		if time.Now().After(deadline) {
			t.Fatalf("no line matching %q within %v", re, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Now()
}

// The idle trimmer (internal/memtrim) runs in every process of `stack
// up`: the master with the edge, and each worker, a re-executed process
// of its own. After a busy spell each one logs its trim.
func TestMemtrimTrimsEveryProcess(t *testing.T) {
	// A connection per request (keepalive: 0) spreads the requests over
	// both workers: kept connections would stay with the first worker
	// ready.
	dir := writeConfig(t, `edge:
  listen: ["127.0.0.1:0"]
  access_log: "off"
  upstreams: {app: {servers: ["unix:run/app.sock"], keepalive: 0}}
appserver: {listen: "unix:run/app.sock", app: echo, processes: 2}
admin: {listen: ""}
`)
	p := start(t, dir, "up", "--log-level", "debug")
	u := p.url()
	waitHTTP(t, u)
	addr := strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/")
	// Echo's JSON of a request with 3 kB of headers: tens of kB allocated
	// per request in every process, enough for a trim (16 MiB) in a
	// second or two even under the race detector.
	pad := "X-Pad: " + strings.Repeat("p", 3000) + "\r\n"
	res := load{Addr: addr, Conns: 8, Request: func(int, int) string {
		return "GET /x HTTP/1.1\r\nHost: " + addr + "\r\n" + pad + "\r\n"
	}}.run(t, nil, 6*time.Second)
	t.Logf("load: %d requests, %d failed", res.Total(), res.Failed())
	if res.Failed() > 0 {
		t.Fatalf("load: %d of %d requests failed: %v %v", res.Failed(), res.Total(), res.Status, res.Failures)
	}
	pids := regexp.MustCompile(`appserver: worker ready.* pid=(\d+)`).FindAllStringSubmatch(p.Output(), -1)
	if len(pids) != 2 {
		t.Fatalf("%d workers reported ready, want 2", len(pids))
	}
	want := map[string]string{fmt.Sprint(p.cmd.Process.Pid): "the master (edge)"}
	for _, m := range pids {
		want[m[1]] = "worker " + m[1]
	}
	trim := regexp.MustCompile(`memtrim: idle; heap returned to the system" pid=(\d+) heap_before_kb=(\d+) heap_after_kb=(\d+)`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		seen := map[string]string{}
		for _, m := range trim.FindAllStringSubmatch(p.Output(), -1) {
			seen[m[1]] = m[2] + " kB → " + m[3] + " kB"
		}
		missing := []string{}
		for pid, who := range want {
			if _, ok := seen[pid]; !ok {
				missing = append(missing, who)
			}
		}
		if len(missing) == 0 {
			for pid, who := range want {
				t.Logf("%s trimmed its heap: %s", who, seen[pid])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no trim logged by %v within 20s of the load", missing)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Trimmed, each still serves.
	if code, _, _ := get(t, u); code != http.StatusOK {
		t.Errorf("GET / after the trims: %d", code)
	}
}
