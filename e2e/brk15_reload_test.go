package e2e

import (
	"fmt"
	"net"
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

// brkEchoConfig is the echo app in the stack's own process behind an edge
// on a free port.
const brkEchoConfig = `
run_dir: run
shutdown_timeout: 5s
edge:
  listen: ["127.0.0.1:0"]
appserver:
  app: echo
`

// A stack started on the stack.yaml it found (no --config) whose file is
// then deleted (a deploy that moves it aside, a checkout of another
// branch) took the built-in defaults at the next SIGHUP, as it would
// with no file at start: another edge.listen (the running address closed),
// the default app, polls' debug pages on. As nginx keeps its configuration
// when the file it reloads is missing, the reload is refused; a file put
// back is taken (break-it 15).
func TestBrkReloadOfAStackYAMLThatIsGoneIsRefused(t *testing.T) {
	cfg := brkEchoConfig
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

// A SIGHUP while `cp new.yaml stack.yaml` runs read the file truncated,
// empty, and loaded the built-in defaults (refused only as polls' defaults
// do not validate; the echo app's do). An empty or whitespace-only file
// is refused, and the running configuration stays.
func TestReloadOfAnEmptyStackYAMLIsRefused(t *testing.T) {
	dir := writeConfig(t, brkEchoConfig)
	p := start(t, dir, "up")
	u, err := url.Parse(p.url())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "stack.yaml")
	for _, blank := range []string{"", "\n  \n"} {
		heldWrite(t, path, blank)
		if out := brkReloadOutcome(t, p); !strings.Contains(out, "reload refused") || !strings.Contains(out, "stack.yaml is empty (or only whitespace)") {
			t.Errorf("a reload of %q:\n%s", blank, out)
		}
		if status, err := getOnce(u.Host); status != http.StatusOK {
			t.Errorf("the running address after the refused reload: %d, %v", status, err)
		}
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}
}

// In mode: subprocess the parent checked a reload and passed it on; the
// edge child refused a new address in use by another program, alone, and
// from then on every start of it (the parent holds what the reload listed)
// failed on that address: a crash of the edge child left every address
// queueing for nobody until the other program let go. The appserver child
// took the reload meanwhile. The parent now tries the new addresses first
// and refuses the reload, which no child is told of; a good one follows.
func TestBrkSubprocessReloadOfAnAddressInUseReachesNoChild(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := "mode: subprocess\n" + workersConfig("")
	dir := writeConfig(t, cfg)
	started := time.Now()
	p := start(t, dir, "up", "--set", "admin.socket=run/admin.sock")
	u, err := url.Parse(p.url())
	if err != nil {
		t.Fatal(err)
	}
	addr, admin := u.Host, unixClient(filepath.Join(dir, "run", "admin.sock"))
	path := filepath.Join(dir, "stack.yaml")

	changed := strings.Replace(cfg+"  log_requests: true\n", `listen: ["127.0.0.1:0"]`,
		`listen: ["127.0.0.1:0", "`+busy.Addr().String()+`"]`, 1)
	heldWrite(t, path, changed)
	held := brkMemfdSize(t, p.cmd.Process.Pid)
	if code, body := adminDo(t, admin, http.MethodPost, "/reload"); code != http.StatusConflict || !strings.Contains(body, "address already in use") {
		t.Errorf("POST /reload: %d %s, want 409 naming the address in use", code, body)
	}
	// Refused before it was held: the memfd the children load did not
	// grow by it (and by the running one, held again).
	if now := brkMemfdSize(t, p.cmd.Process.Pid); now != held {
		t.Errorf("the held configuration grew from %d to %d bytes with a refused reload", held, now)
	}
	time.Sleep(time.Until(started.Add(3500 * time.Millisecond))) // past the children's start-up
	heldLogsNoRequest(t, p, addr, "the appserver child took a reload the edge refused")

	// The edge child crashes: it is started again, on the addresses it had.
	pid := heldTierChild(p.cmd.Process.Pid, "edge")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	tierPID(t, p, "edge", pid)
	if status, err := getOnce(addr); status != http.StatusOK {
		t.Fatalf("after the edge child's crash: %d, %v\n%s", status, err, p.Output())
	}

	// Without the address in use, the same reload reaches both children.
	heldWrite(t, path, cfg+"  log_requests: true\n")
	heldReload(t, p, "chain reload done")
	heldLogsRequests(t, p, addr)
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}
}

// brkMemfdSize is the size of the configuration pid holds for its
// children (internal/heldconfig's memfd).
func brkMemfdSize(t *testing.T, pid int) int64 {
	t.Helper()
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	for _, fd := range fds {
		if target, _ := os.Readlink(fd); strings.HasPrefix(target, "/memfd:stack-config") {
			if fi, err := os.Stat(fd); err == nil {
				return fi.Size()
			}
		}
	}
	t.Fatalf("process %d holds no configuration memfd", pid)
	return 0
}

// adminDo makes one request of the admin's control socket and returns its
// status and body.
func adminDo(t *testing.T, admin *http.Client, method, path string) (int, string) {
	t.Helper()
	code, _, body := doWith(t, admin, method, "http://admin"+path)
	return code, body
}

var brkReloadLine = regexp.MustCompile(`msg=(reloaded|"reload refused[^"]*"|"reload failed[^"]*")|"msg":"(reloaded|reload refused|reload failed)`)

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

// The processes entries stack up supervises are started once: a reload
// that changed them was taken, the admin's /config showed the new entries,
// and the old ones ran on (and were restarted as they were, after a
// crash). As with the other keys only a restart applies, the reload is
// refused, naming them (break-it 15).
func TestBrkReloadThatChangesProcessesIsRefused(t *testing.T) {
	cfg := `
run_dir: run
edge:
  listen: ["127.0.0.1:0"]
appserver:
  app: echo
processes:
  - {name: one, command: [sleep, "300"]}
`
	dir := writeConfig(t, cfg)
	p := start(t, dir, "up", "--set", "admin.socket=run/admin.sock")
	p.url()
	admin := unixClient(filepath.Join(dir, "run", "admin.sock"))
	heldWrite(t, filepath.Join(dir, "stack.yaml"), strings.Replace(cfg, "name: one", "name: two", 1))
	if code, body := adminDo(t, admin, http.MethodPost, "/reload"); code != http.StatusConflict || !strings.Contains(body, "processes") {
		t.Errorf("POST /reload: %d %s, want 409 naming processes", code, body)
	}
	if _, body := adminDo(t, admin, http.MethodGet, "/config"); !strings.Contains(body, "name: one") {
		t.Errorf("/config shows entries that do not run:\n%s", body)
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}
}

// A reload the appserver's chain reload fails (its first new worker not
// ready in time) leaves every tier on the running configuration, and so
// the master: it took the reload's harakiri, worker_ready_timeout and
// min_processes before replacing the workers and kept them when that
// failed, so its harakiri backstop killed, at the refused reload's 1s + 3s,
// a request the running 30s let run (502), while /config said 30s
// (break-it 15).
func TestBrkFailedReloadLeavesTheMasterItsSettings(t *testing.T) {
	cfg := workersConfig("  harakiri: 30s\n")
	dir := writeConfig(t, cfg)
	p := start(t, dir, "up")
	url := p.url()
	workersPIDs(t, dir, 2)
	heldWrite(t, filepath.Join(dir, "stack.yaml"), strings.Replace(cfg, "harakiri: 30s", "harakiri: 1s\n  worker_ready_timeout: 1ms", 1))
	if out := brkReloadOutcome(t, p); !strings.Contains(out, "reload failed") {
		t.Fatalf("a reload whose new workers cannot be ready in 1ms:\n%s", out)
	}
	// Past 1s + the worker's grace (2s) + 1s, the refused reload's limit.
	t0 := time.Now()
	code, _, body := get(t, url+"delay/5.5")
	if code != 200 || strings.Contains(p.Output(), "did not end an overdue request") {
		t.Errorf("GET /delay/5.5 after a failed reload to harakiri 1s: %d after %v %q\n%s", code, time.Since(t0), body, p.Output())
	}
}

// log_format is taken at start, by every tier's logger, the workers and
// the children's lines: a reload that changed it was taken but switched
// only the reloading process's own records (its "reloaded" lines), and
// the stream mixed JSON objects with text lines from then on; one refused
// for another key switched them too. It needs a restart, as the keys the
// reload names (break-it 15).
func TestBrkReloadThatChangesLogFormatIsRefused(t *testing.T) {
	dir := writeConfig(t, brkEchoConfig)
	p := start(t, dir, "up")
	p.url()
	heldWrite(t, filepath.Join(dir, "stack.yaml"), "log_format: json\n"+brkEchoConfig)
	out := brkReloadOutcome(t, p)
	if !strings.Contains(out, "reload refused") || !strings.Contains(out, "log_format (text → json)") {
		t.Errorf("a reload to log_format: json:\n%s", out)
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}
	if out := p.Output(); strings.Contains(out, `{"time"`) {
		t.Errorf("JSON records among the text lines:\n%s", out)
	}
}
