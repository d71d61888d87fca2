package e2e

import (
	"context"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
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
