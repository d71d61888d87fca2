package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// edgeReloadConfig is the echo app behind the edge. With extra, it also
// serves /static/ from site/, listens on extraAddr too, and has a
// different keep-alive timeout (so the reload also changes the server's
// own settings, which takes a new http.Server generation).
func edgeReloadConfig(listen, extraAddr string, extra bool) string {
	listens := fmt.Sprintf("[%q]", listen)
	static, keepalive := "", "75s"
	if extra {
		listens = fmt.Sprintf("[%q, %q]", listen, extraAddr)
		static = "\n    - {path: /static/, root: site}"
		keepalive = "70s"
	}
	return `
run_dir: run
shutdown_timeout: 5s
edge:
  listen: ` + listens + `
  keepalive_timeout: ` + keepalive + `
  locations:
    - {path: /, upstream: app}` + static + `
  upstreams:
    app: {servers: ["unix:run/app.sock"]}
appserver:
  listen: unix:run/app.sock
  app: echo
`
}

// edgeReload writes the configuration, sends SIGHUP and waits until the
// process has logged one more reload (or refusal) than before.
func edgeReload(t *testing.T, p *proc, yaml, want string) {
	t.Helper()
	before := strings.Count(p.Output(), want)
	if err := os.WriteFile(filepath.Join(p.dir, "stack.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(p.Output(), want) == before {
		if time.Now().After(deadline) {
			t.Fatalf("no %q within 10s of SIGHUP:\n%s", want, p.Output())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const edgeReloaded = "msg=reloaded tier=edge"

func TestEdgeSIGHUPReloadsWithNoFailedRequest(t *testing.T) {
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	extra := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	dir := writeConfig(t, edgeReloadConfig(listen, extra, false))
	if err := os.MkdirAll(filepath.Join(dir, "site"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "site", "f.txt"), []byte("static!"), 0o644)
	p := start(t, dir, "up")
	url := p.url()

	// Ten reloads under keep-alive load: not one request may fail.
	stop := make(chan struct{})
	go func() {
		defer close(stop)
		for i := range 10 {
			time.Sleep(700 * time.Millisecond)
			edgeReload(t, p, edgeReloadConfig(listen, extra, i%2 == 0), edgeReloaded)
		}
		time.Sleep(500 * time.Millisecond)
	}()
	res := load{Addr: listen, Conns: 16}.run(t, stop, 30*time.Second)
	t.Logf("10 reloads during %d requests on 16 keep-alive connections: %s", res.Total(), res)
	if res.Failed() != 0 || res.Total() == 0 {
		t.Fatalf("%d of %d requests failed across 10 reloads, want 0: %s", res.Failed(), res.Total(), res)
	}

	// The last reload removed /static/ and the extra address; a reload
	// that adds them is in effect for the next request.
	if code, _, body := get(t, url+"static/f.txt"); code != 200 || !strings.Contains(body, `"path": "/static/f.txt"`) {
		t.Fatalf("before the reload, /static/f.txt = %d %q, want the echo app's answer", code, body)
	}
	if c, err := net.Dial("tcp", extra); err == nil {
		c.Close()
		t.Fatalf("%s accepts before the reload that adds it", extra)
	}
	edgeReload(t, p, edgeReloadConfig(listen, extra, true), edgeReloaded)
	if code, _, body := get(t, url+"static/f.txt"); code != 200 || body != "static!" {
		t.Fatalf("after the reload, /static/f.txt = %d %q, want the file", code, body)
	}
	if code, _, body := get(t, "http://"+extra+"/static/f.txt"); code != 200 || body != "static!" {
		t.Fatalf("the added address %s answered %d %q", extra, code, body)
	}

	// An invalid configuration is refused with `stack check`'s message;
	// the running one keeps answering.
	bad := strings.Replace(edgeReloadConfig(listen, extra, true), "upstream: app}", "upstream: nope}", 1)
	checkDir := writeConfig(t, bad)
	_, checkOut, code := run(t, checkDir, "check")
	if code == 0 {
		t.Fatalf("stack check accepted the invalid configuration")
	}
	problem := ""
	for _, line := range strings.Split(checkOut, "\n") {
		if strings.Contains(line, "nope") {
			problem = strings.TrimSpace(line)
		}
	}
	edgeReload(t, p, bad, "reload refused")
	if problem == "" || !strings.Contains(p.Output(), problem) {
		t.Errorf("the refused reload did not log stack check's message %q:\n%s", problem, p.Output())
	}
	if code, _, body := get(t, url+"static/f.txt"); code != 200 || body != "static!" {
		t.Fatalf("after a refused reload, /static/f.txt = %d %q, want the running configuration's file", code, body)
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}
