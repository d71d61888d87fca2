package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// /readyz turns 503 the moment SIGTERM arrives, before the drain, while
// the requests in flight still finish with 200.
func TestAdminReadyzTurns503OnSIGTERM(t *testing.T) {
	a := adminUp(t, `
run_dir: run
shutdown_timeout: 15s
edge:
  listen: ["127.0.0.1:0"]
appserver:
  app: echo
`)
	if code, _, body := adminGet(a.admin, "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	get(t, "http://"+a.edge+"/one")
	if _, _, expo := adminGet(a.admin, "/metrics"); !strings.Contains(expo, "\nstack_appserver_requests_total 1\n") {
		t.Errorf("the in-process appserver's requests:\n%s", grepLines(expo, "stack_appserver"))
	}
	const slow = 4
	var wg sync.WaitGroup
	codes := make([]int, slow)
	errs := make([]error, slow)
	for i := range slow {
		wg.Go(func() {
			c, err := net.Dial("tcp", a.edge)
			if err != nil {
				errs[i] = err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			fmt.Fprintf(c, "GET /delay/2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				errs[i] = err
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	time.Sleep(500 * time.Millisecond) // the requests reach the app
	sent := time.Now()
	a.p.cmd.Process.Signal(syscall.SIGTERM)
	var after time.Duration
	for {
		code, _, _ := adminGet(a.admin, "/readyz")
		if code == http.StatusServiceUnavailable {
			after = time.Since(sent)
			break
		}
		if time.Since(sent) > 1500*time.Millisecond {
			t.Fatalf("/readyz still %d 1.5s after SIGTERM, with requests still in flight", code)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("/readyz answered 503 %v after SIGTERM", after)
	wg.Wait()
	for i := range slow {
		if errs[i] != nil || codes[i] != http.StatusOK {
			t.Errorf("request %d in flight at SIGTERM: status %d, err %v", i, codes[i], errs[i])
		}
	}
	select {
	case <-a.p.done:
	case <-time.After(20 * time.Second):
		t.Fatal("stack did not exit after the drain")
	}
	if a.p.err != nil {
		t.Fatalf("exit: %v", a.p.err)
	}
}

// `stack status --json` and `stack reload` through the control socket: a
// reload with a bad file is refused with its reason and the running
// configuration keeps answering; a good one is applied. The socket is
// 0600 and refuses another user; the TCP listener refuses the control
// endpoints.
func TestAdminControlSocket(t *testing.T) {
	a := adminUp(t, adminWorkersYAML)

	out, errOut, code := run(t, a.dir, "status", "--json", "--socket", a.socket)
	if code != 0 {
		t.Fatalf("stack status --json: exit %d\n%s", code, errOut)
	}
	var st adminStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil || !st.Ready || len(st.Workers) != 2 || st.Workers[0].PID == 0 {
		t.Fatalf("stack status --json: %v\n%s", err, out)
	}
	out, _, code = run(t, a.dir, "status", "--socket", a.socket)
	if code != 0 || !strings.Contains(out, "WORKER") || !strings.Contains(out, fmt.Sprint(st.Workers[1].PID)) {
		t.Fatalf("stack status: exit %d\n%s", code, out)
	}
	out, _, code = run(t, a.dir, "top", "--socket", a.socket) // no terminal: one view, then exit
	if code != 0 || !strings.Contains(out, "DELTA") {
		t.Fatalf("stack top without a terminal: exit %d\n%s", code, out)
	}

	// A bad file: refused, with the reason, and the old configuration serves.
	cfg := filepath.Join(a.dir, "stack.yaml")
	good, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(append([]byte{}, good...), "\nedge: {colour: blue}\n"...), 0o644)
	out, errOut, code = run(t, a.dir, "reload", "--socket", a.socket)
	if code == 0 || !strings.Contains(errOut, "refused") || !strings.Contains(errOut, `key "edge" is given twice`) {
		t.Fatalf("reload of a bad file: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if c, _, body := get(t, "http://"+a.edge+"/after-bad-reload"); c != http.StatusOK || !strings.Contains(body, "/after-bad-reload") {
		t.Fatalf("after the refused reload: %d %s", c, body)
	}
	// A good one (a location the app now gets under another prefix) is applied.
	fixed := strings.Replace(string(good), "edge:\n  listen: [\"127.0.0.1:0\"]\n",
		"edge:\n  listen: [\"127.0.0.1:0\"]\n  locations: [{path: /, upstream: app}, {path: /static-test/, root: run}]\n", 1)
	os.WriteFile(cfg, []byte(fixed), 0o644)
	out, errOut, code = run(t, a.dir, "reload", "--socket", a.socket)
	if code != 0 || !strings.Contains(out, "reloaded") {
		t.Fatalf("reload of a good file: exit %d\n%s%s", code, out, errOut)
	}
	if c, _, _ := get(t, "http://"+a.edge+"/static-test/nothing-here"); c != http.StatusNotFound {
		t.Fatalf("after the reload, a file under the new static location: %d, want 404 from the edge", c)
	}

	// The control endpoints are on the socket only.
	resp, err := http.Post("http://"+a.admin+"/reload", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST /reload on admin.listen: %d, want 403", resp.StatusCode)
	}

	// The socket is 0600: another user (nobody) is refused. As a
	// control, the same connection succeeds once the mode lets them in.
	fi, err := os.Stat(a.socket)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin socket: %v, mode %v", err, fi.Mode())
	}
	shared, err := os.MkdirTemp("", "stack-admin-") // a directory everyone may enter, unlike run_dir
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(shared)
	os.Chmod(shared, 0o755)
	link := filepath.Join(shared, "admin.sock")
	if err := os.Link(a.socket, link); err != nil {
		t.Fatal(err)
	}
	if out, err := connectAsNobody(link); err == nil {
		t.Fatalf("user nobody connected to the 0600 control socket:\n%s", out)
	} else if !strings.Contains(out, "PermissionError") {
		t.Fatalf("nobody's connection failed for another reason: %v\n%s", err, out)
	}
	os.Chmod(link, 0o666) // the same inode: the control
	if out, err := connectAsNobody(link); err != nil {
		t.Fatalf("control: nobody could not connect to a 0666 socket: %v\n%s", err, out)
	}
	os.Chmod(link, 0o600)
}

// connectAsNobody connects to a Unix socket as user nobody (65534).
func connectAsNobody(path string) (string, error) {
	cmd := exec.Command("/usr/bin/python3", "-c", "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print('connected')", path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	return string(out), err
}
