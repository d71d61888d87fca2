package prefork

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stack-web/stack/appserver"
	"github.com/stack-web/stack/uwsgi"
)

// A worker started under the normal policy runs every thread under
// SCHED_BATCH, including those its runtime starts later, behind nginx
// (one request per connection) and behind the edge (kept connections)
// alike.
func TestWorkerRunsSchedBatch(t *testing.T) {
	path, pid := oneWorkerUnder(t, schedNormal)
	// Traffic from 8 clients at once, so that the runtime starts more
	// threads while it serves.
	until(t, pid, "3", oneShotTraffic(t, path))
	kept := keptTraffic(t, path)
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end) && !t.Failed(); {
		kept()
	}
	if p := threadPolicies(t, pid); strings.Trim(p, "3 ") != "" {
		t.Fatalf("behind kept connections the worker's threads run policies %s, want all 3 (SCHED_BATCH)", p)
	}
}

// oneWorkerUnder starts a master of one worker, under policy while it
// starts it (the worker inherits it; this test process gets the normal
// policy back), and returns its socket and the worker's pid. The master
// is shut down when the test ends.
func oneWorkerUnder(t *testing.T, policy int) (path string, pid int) {
	t.Setenv("APPSERVER_TEST_WORKER", "1")
	path = filepath.Join(t.TempDir(), "app.sock")
	l, err := appserver.Listen("unix:"+path, 0o660)
	if err != nil {
		t.Fatal(err)
	}
	cfg := appserver.DefaultConfig()
	cfg.Processes = 1
	m := &Master{Config: cfg, Command: []string{os.Args[0]}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Output: io.Discard}
	if err := setSchedPolicy(policy); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := setSchedPolicy(schedNormal); err != nil {
			t.Error(err)
		}
	}()
	served := make(chan error, 1)
	go func() { served <- m.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		<-served
	})
	return path, waitPIDs(t, m, func(p []int) bool { return len(p) == 1 })[0]
}

// oneShotTraffic returns a round of nginx's traffic to path: 8 clients at
// once, 4 requests each, one per connection.
func oneShotTraffic(t *testing.T, path string) func() {
	oneShot := request("GET", "/", "")
	return func() {
		parallel(8, func(int) {
			for range 4 {
				if resp, _ := do(t, path, "GET", oneShot); resp.StatusCode != 200 {
					t.Errorf("GET /: %d", resp.StatusCode)
				}
			}
		})
	}
}

// keptTraffic returns a round of the edge's traffic to path: 4 requests on
// each of 8 kept connections, closed when the test ends.
func keptTraffic(t *testing.T, path string) func() {
	var conns [8]struct {
		c  net.Conn
		br *bufio.Reader
	}
	for i := range conns {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns[i].c, conns[i].br = c, bufio.NewReader(c)
	}
	kept := keptPacket(t)
	return func() {
		parallel(len(conns), func(i int) {
			c, br := conns[i].c, conns[i].br
			for range 4 {
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := c.Write(kept); err != nil {
					t.Error(err)
					return
				}
				resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || resp.Header.Get(uwsgi.KeepAliveHeader) == "" {
					t.Errorf("a kept request: %d, %s %q", resp.StatusCode, uwsgi.KeepAliveHeader, resp.Header.Get(uwsgi.KeepAliveHeader))
					return
				}
			}
		})
	}
}

// parallel runs f(0) ... f(n-1) at once and waits for them.
func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { f(i) })
	}
	wg.Wait()
}

// until runs traffic until every thread of pid runs policy, for up to 10 s.
func until(t *testing.T, pid int, policy string, traffic func()) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		traffic()
		if t.Failed() {
			t.FailNow()
		}
		p := threadPolicies(t, pid)
		if strings.Trim(p, policy+" ") == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker %d's threads run policies %s, want all %s", pid, p, policy)
		}
	}
}

// threadPolicies lists the scheduling policy of each thread of pid.
func threadPolicies(t *testing.T, pid int) string {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			continue // the thread exited
		}
		// Field 41 is the policy; the name (field 2) may hold spaces.
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		out = append(out, fields[41-3])
	}
	return strings.Join(out, " ")
}

// keptPacket is a request as the edge sends it, offering keep-alive.
func keptPacket(t *testing.T) []byte {
	var e uwsgi.Encoder
	e.Reset(nil, 0, 0)
	for _, kv := range [][2]string{{"QUERY_STRING", ""}, {"REQUEST_METHOD", "GET"}, {"CONTENT_LENGTH", ""},
		{"REQUEST_URI", "/"}, {"PATH_INFO", "/"}, {"SERVER_PROTOCOL", "HTTP/1.1"}, {"HTTP_HOST", "test"},
		{uwsgi.VarKeepAlive, "1"}, {"STACK_RESPONSE_FRAMING", "chunked"}} {
		e.Add(kv[0], kv[1])
	}
	b, err := e.Bytes(0)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A worker started under another policy than the normal one (the
// operator's: `chrt --batch` or `chrt --idle 0 stack appserver`,
// systemd's CPUSchedulingPolicy=) keeps it, whatever its peer: a worker
// that chose its policy switched an idle-class stack's workers to
// SCHED_BATCH, giving an idle-class stack a normal share of the CPU (found
// by running the binary under chrt -i 0).
func TestWorkerKeepsThePolicyItWasStartedWith(t *testing.T) {
	for _, policy := range []int{schedBatch, schedIdle} {
		t.Run(strconv.Itoa(policy), func(t *testing.T) {
			path, pid := oneWorkerUnder(t, policy)
			want := strconv.Itoa(policy)
			if p := threadPolicies(t, pid); strings.Trim(p, want+" ") != "" {
				t.Fatalf("the worker started under policies %s, want all %s", p, want)
			}
			// nginx's traffic, then the edge's, each for many of the
			// worker's statistics ticks.
			for _, traffic := range []func(){oneShotTraffic(t, path), keptTraffic(t, path)} {
				for end := time.Now().Add(700 * time.Millisecond); time.Now().Before(end) && !t.Failed(); {
					traffic()
				}
				if p := threadPolicies(t, pid); strings.Trim(p, want+" ") != "" {
					t.Fatalf("the worker runs policies %s after traffic, want all %s, as started", p, want)
				}
			}
		})
	}
}

// schedIdle is SCHED_IDLE (linux/sched.h).
const schedIdle = 5
