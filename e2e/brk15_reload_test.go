package e2e

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A stack started on the stack.yaml it found (no --config) whose file is
// then deleted (a deploy that moves it aside, a checkout of another
// branch) took the built-in defaults at the next SIGHUP, as it would
// with no file at start: another edge.listen (the running address closed),
// the default app, polls' debug pages on. As nginx keeps its configuration
// when the file it reloads is missing, the reload is refused; a file put
// back is taken (break-it 15).
func TestBrkReloadOfAStackYAMLThatIsGoneIsRefused(t *testing.T) {
	cfg := `
run_dir: run
shutdown_timeout: 5s
edge:
  listen: ["127.0.0.1:0"]
appserver:
  app: echo
`
	dir := writeConfig(t, cfg)
	p := start(t, dir, "up")
	u, err := url.Parse(p.url())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "stack.yaml")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if out := brkReloadOutcome(t, p); !strings.Contains(out, "reload refused") || !strings.Contains(out, "stack.yaml, read at start, is gone") {
		t.Errorf("a reload after stack.yaml was deleted:\n%s", out)
	}
	if status, err := getOnce(u.Host); status != http.StatusOK {
		t.Errorf("the running address after the refused reload: %d, %v", status, err)
	}

	heldWrite(t, path, cfg+"  log_requests: true\n")
	if out := brkReloadOutcome(t, p); !strings.Contains(out, "msg=reloaded") {
		t.Errorf("a reload of the file put back:\n%s", out)
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}
}

var brkReloadLine = regexp.MustCompile(`msg=(reloaded|"reload refused[^"]*"|"reload failed[^"]*")`)

// brkReloadOutcome sends SIGHUP and returns the output from it on, once it
// has a line saying the reload was taken, refused or failed.
func brkReloadOutcome(t *testing.T, p *proc) string {
	t.Helper()
	mark := len(p.Output())
	p.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(15 * time.Second)
	for {
		out := p.Output()[mark:]
		if brkReloadLine.MatchString(out) {
			time.Sleep(100 * time.Millisecond) // the rest of its lines
			return p.Output()[mark:]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reload line after SIGHUP:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
