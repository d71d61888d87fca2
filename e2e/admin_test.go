package e2e

import (
	"encoding/json"
	"fmt"
	"io"
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

// The admin surface (issue 11): a real Prometheus scraping /metrics, the
// status page in a real headless Chromium, /readyz on SIGTERM, and the
// control socket with `stack status` and `stack reload`.

// adminStack is a `stack up` with its admin surface on.
type adminStack struct {
	p      *proc
	dir    string
	edge   string // host:port
	admin  string // host:port
	socket string // absolute path
}

// adminUp starts `stack up` in a new directory with yaml, the admin on a
// free port and its socket in run/, and waits until /readyz says ready.
func adminUp(t *testing.T, yaml string) *adminStack {
	t.Helper()
	dir := writeConfig(t, yaml)
	port := freePort(t)
	a := &adminStack{dir: dir, admin: "127.0.0.1:" + strconv.Itoa(port), socket: filepath.Join(dir, "run", "admin.sock")}
	a.p = start(t, dir, "up", "--set", "admin.listen="+a.admin, "--set", "admin.socket=run/admin.sock")
	u, err := url.Parse(a.p.url())
	if err != nil {
		t.Fatal(err)
	}
	a.edge = u.Host
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _, _ := adminGet(a.admin, "/readyz")
		if code == http.StatusOK {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not 200 within 30s (last %d):\n%s", code, a.p.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// adminGet fetches path from the admin listener; code 0 if it failed.
func adminGet(addr, path string) (int, http.Header, string) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		return 0, nil, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// adminStatus is the part of /status.json the tests read.
type adminStatus struct {
	Ready   bool `json:"ready"`
	Workers []struct {
		ID    int    `json:"id"`
		PID   int    `json:"pid"`
		State string `json:"state"`
	} `json:"workers"`
}

func (a *adminStack) status(t *testing.T) adminStatus {
	t.Helper()
	code, _, body := adminGet(a.admin, "/status.json")
	if code != http.StatusOK {
		t.Fatalf("/status.json: %d %s", code, body)
	}
	var st adminStatus
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("/status.json: %v\n%s", err, body)
	}
	return st
}

const adminWorkersYAML = `
run_dir: run
shutdown_timeout: 10s
edge:
  listen: ["127.0.0.1:0"]
appserver:
  app: echo
  processes: 2
`

// After load through the edge, a real Prometheus scraping /metrics every
// second answers a PromQL query for stack_edge_requests_total with the
// number of requests the load client got answers to, and promtool accepts
// the exposition.
func TestAdminPrometheusCountsEdgeRequests(t *testing.T) {
	a := adminUp(t, adminWorkersYAML)

	code, _, expo := adminGet(a.admin, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, name := range []string{"stack_appserver_workers", "stack_appserver_worker_requests_total", "stack_appserver_listen_queue",
		"stack_edge_open_connections", "stack_edge_upstream_server_up", "go_goroutines", "process_resident_memory_bytes"} {
		if !strings.Contains(expo, "\n"+name) {
			t.Errorf("/metrics has no %s", name)
		}
	}

	promDir := t.TempDir()
	promPort := freePort(t)
	cfg := fmt.Sprintf(`global: {scrape_interval: 1s, scrape_timeout: 900ms}
scrape_configs:
  - job_name: stack
    static_configs: [{targets: ["%s"]}]
`, a.admin)
	if err := os.WriteFile(filepath.Join(promDir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	prom := exec.Command("prometheus", "--config.file="+filepath.Join(promDir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(promDir, "data"), "--web.listen-address=127.0.0.1:"+strconv.Itoa(promPort), "--log.level=warn")
	var promOut strings.Builder
	prom.Stdout, prom.Stderr = &promOut, &promOut
	if err := prom.Start(); err != nil {
		t.Fatalf("starting prometheus: %v", err)
	}
	t.Cleanup(func() {
		prom.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { prom.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			prom.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("prometheus output:\n%s", promOut.String())
		}
	})

	res := load{Addr: a.edge, Conns: 4, Timeout: 10 * time.Second}.run(t, nil, 2*time.Second)
	answered := 0
	for _, n := range res.Status {
		answered += n
	}
	t.Logf("load: %s", res)
	if answered == 0 || res.Failed() != 0 {
		t.Fatalf("load through the edge: %s", res)
	}

	// Prometheus scrapes every second: poll its HTTP API until the
	// latest sample has every request, or 20 s have passed.
	q := "http://127.0.0.1:" + strconv.Itoa(promPort) + "/api/v1/query?query=" + url.QueryEscape(`sum(stack_edge_requests_total{job="stack"})`)
	var got float64
	var last string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(q)
		if err == nil {
			var r struct {
				Status string `json:"status"`
				Data   struct {
					Result []struct {
						Value [2]any `json:"value"`
					} `json:"result"`
				} `json:"data"`
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = string(b)
			if json.Unmarshal(b, &r) == nil && len(r.Data.Result) == 1 {
				if s, ok := r.Data.Result[0].Value[1].(string); ok {
					got, _ = strconv.ParseFloat(s, 64)
					if got == float64(answered) {
						break
					}
				}
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("PromQL sum(stack_edge_requests_total) = %v; requests answered = %d", got, answered)
	if got != float64(answered) {
		t.Fatalf("PromQL sum(stack_edge_requests_total) = %v, want %d (last answer %s)", got, answered, last)
	}

	// The exposition after the load, through promtool's linter.
	_, _, expo = adminGet(a.admin, "/metrics")
	check := exec.Command("promtool", "check", "metrics")
	check.Stdin = strings.NewReader(expo)
	out, err := check.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	if !strings.Contains(expo, `stack_edge_requests_total{code="2xx",location="/",method="GET"}`) {
		t.Errorf("no GET 2xx series for location / in:\n%s", grepLines(expo, "stack_edge_requests_total"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
