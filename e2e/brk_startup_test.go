package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Found by sending SIGHUP to `stack up` at every moment of its start: one
// that came during the release (before the supervisor handled signals)
// killed up by Go's default for SIGHUP, in the middle of its migration,
// its prespawned worker with it. A reload asked for during the start
// (logrotate, `systemctl reload`) is a reload once the stack runs.
func TestBrkStartupSIGHUPDuringReleaseIsAReload(t *testing.T) {
	port := freePort(t)
	dir := writeConfig(t, fmt.Sprintf(`
edge:
  listen: ["127.0.0.1:%d"]
admin: {listen: ""}
appserver: {app: hello, processes: 2}
release:
  - [sh, -c, "kill -HUP $PPID; sleep 0.3"]
`, port))
	p := configStart(t, dir, opsFastExit, "up", "--log-level", "info")
	url := p.serving(30 * time.Second)
	if url == "" {
		t.Fatalf("up did not survive a SIGHUP during its release:\n%s", p.output())
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.output(), "chain reload done") {
		if time.Now().After(deadline) {
			t.Fatalf("the SIGHUP during the release was not a reload once up ran:\n%s", p.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET %s after the reload: %d", url, resp.StatusCode)
	}
	if code := p.stopWith(syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d:\n%s", code, p.output())
	}
}
