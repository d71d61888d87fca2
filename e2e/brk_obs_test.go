package e2e

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Breaking the admin surface with the real binary (mode: subprocess,
// log_format: json): a head net/http refuses at the edge is counted in
// the parent's /metrics as the client saw it, and a reload of a bad file
// through the control socket is refused with stderr still one JSON
// object a line (every tier's, only the announcements are text).
func TestBrkObsRefusedHeadsCountedAndReloadRefusalStaysJSON(t *testing.T) {
	a := adminUp(t, `
mode: subprocess
run_dir: run
log_format: json
edge:
  listen: ["127.0.0.1:0"]
  access_log: stderr
  access_log_format: json
appserver:
  app: echo
  processes: 1
`)
	// A malformed head: net/http's own 400.
	c, err := net.Dial("tcp", a.edge)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("GET /bad HTTP/1.1\r\nHost: a\r\nNo colon here\r\n\r\n"))
	line, _ := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if !strings.HasPrefix(line, "HTTP/1.1 400 ") {
		t.Fatalf("malformed head: %q, want 400", line)
	}
	want := `stack_edge_requests_total{code="4xx",location="none",method="GET",tier="edge"} 1`
	if code, _, body := adminGet(a.admin, "/metrics"); code != http.StatusOK || !strings.Contains(body, want) {
		t.Errorf("/metrics: %d, lacks %s:\n%s", code, want, grepLines(body, "stack_edge_requests_total"))
	}

	cfg := filepath.Join(a.dir, "stack.yaml")
	good, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(append([]byte{}, good...), "bogus_key: 1\n"...), 0o644)
	out, errOut, code := run(t, a.dir, "reload", "--socket", a.socket)
	if code == 0 || !strings.Contains(errOut, "bogus_key") {
		t.Fatalf("reload of a bad file: exit %d\n%s%s", code, out, errOut)
	}
	os.WriteFile(cfg, good, 0o644)
	if c, _, _ := get(t, "http://"+a.edge+"/after"); c != http.StatusOK {
		t.Fatalf("after the refused reload: %d", c)
	}
	time.Sleep(300 * time.Millisecond) // the children's last lines cross a pipe
	if code := a.p.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d:\n%s", code, a.p.Output())
	}
	lines := strings.Split(strings.TrimSpace(a.p.Output()), "\n")
	for _, l := range lines {
		var v map[string]any
		if json.Unmarshal([]byte(l), &v) == nil {
			continue
		}
		if !strings.HasPrefix(l, "stack: ") && !strings.HasPrefix(l, "[edge] stack: ") && !strings.HasPrefix(l, "[appserver] stack: ") {
			t.Errorf("a line that is neither JSON nor an announcement: %q", l)
		}
	}
	t.Logf("%d lines on stderr", len(lines))
}
