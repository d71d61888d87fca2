package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// brkFcgiNginx runs Debian's nginx with fastcgi_pass to the Unix socket
// sock and returns its host:port.
func brkFcgiNginx(t *testing.T, dir, sock string) string {
	t.Helper()
	nginx := need(t, "nginx")
	return strings.TrimPrefix(nginxFront(t, nginx, dir, `
        location / {
            include /etc/nginx/fastcgi_params;
            fastcgi_pass unix:`+sock+`;
        }`), "http://")
}

// A chain reload (SIGHUP) of `stack appserver --protocol fastcgi` behind
// nginx loses no request: each old worker answers every connection it
// accepted before it exits. It reset those whose request it had read but
// not yet handled (nginx: "recv() failed (104: Connection reset by
// peer)", 502), about 2 per reload under 16 connections.
func TestBrkFcgiChainReloadUnderLoadLosesNothing(t *testing.T) {
	dir := writeConfig(t, `
run_dir: run
admin:
  listen: ""
appserver:
  listen: unix:run/app.sock
  socket_mode: "0666"
  app: echo
  processes: 2
`)
	app := start(t, dir, "appserver", "--protocol", "fastcgi")
	sock := filepath.Join(dir, "run", "app.sock")
	waitFile(t, sock)
	addr := brkFcgiNginx(t, dir, sock)

	stop := make(chan struct{})
	results := make(chan *loadResult, 1)
	go func() { results <- load{Addr: addr, Conns: 16, Timeout: 5 * time.Second}.run(t, stop, 10*time.Second) }()
	const reloads = 3
	for i := 1; i <= reloads; i++ {
		time.Sleep(300 * time.Millisecond)
		app.cmd.Process.Signal(syscall.SIGHUP)
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(app.Output(), "chain reload done") < i {
			if time.Now().After(deadline) {
				close(stop)
				t.Fatalf("reload %d did not finish:\n%s", i, app.Output())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	res := <-results
	t.Logf("%d reloads under 16 connections: %d requests, %s", reloads, res.Total(), res)
	if res.Failed() > 0 || res.OK == 0 {
		log, _ := readFile(filepath.Join(dir, "nginx-error.log"))
		var errs []string
		for _, l := range strings.Split(log, "\n") {
			if strings.Contains(l, "[error]") && len(errs) < 5 {
				errs = append(errs, l)
			}
		}
		t.Errorf("%d of %d requests failed across %d chain reloads: %s\nnginx: %s", res.Failed(), res.Total(), reloads, res, strings.Join(errs, "\n"))
	}
}

// Ctrl-C in the middle of `stack bench protocols` leaves no process and
// no temporary directory, and writes the cells measured so far (it wrote
// nothing and said only "context canceled").
func TestBrkFcgiBenchInterruptKeepsPartialResults(t *testing.T) {
	tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "results")
	cmd := exec.Command(binary, "bench", "protocols", "--ways", "http", "--connections", "1,8", "--duration", "1s", "--warmup", "100ms", "--out", out)
	cmd.Env = append(cleanEnv(), "TMPDIR="+tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stdout bytes.Buffer
	stderr, _ := cmd.StderrPipe()
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	progress := bufio.NewScanner(stderr)
	var seen []string
	for progress.Scan() {
		seen = append(seen, progress.Text())
		if strings.Contains(progress.Text(), "cell 2 of 2") {
			break
		}
	}
	time.Sleep(300 * time.Millisecond) // inside the second cell
	cmd.Process.Signal(syscall.SIGINT)
	go io.Copy(io.Discard, stderr)
	err := cmd.Wait()
	t.Logf("progress: %q\n%s", seen, stdout.String())
	if err == nil {
		t.Error("an interrupted bench exited 0")
	}
	if syscall.Kill(-cmd.Process.Pid, 0) == nil {
		t.Error("processes of the bench's group are still running")
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "stack-bench-*")); len(left) > 0 {
		t.Errorf("temporary directories left: %v", left)
	}
	var rep struct {
		Cells    []struct{ Connections int }
		Failures []string
	}
	b, rerr := os.ReadFile(filepath.Join(out, "results.json"))
	if rerr != nil || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("no results.json after the interrupt: %v %s", rerr, b)
	}
	if len(rep.Cells) != 1 || rep.Cells[0].Connections != 1 || len(rep.Failures) != 1 || !strings.Contains(rep.Failures[0], "interrupted") {
		t.Errorf("partial results: %+v", rep)
	}
	if !strings.Contains(stdout.String(), "| 1 |") {
		t.Errorf("the partial table is not printed:\n%s", stdout.String())
	}
}

// The edge in front of Debian's PHP-FPM, attacked: 200 headers of 1 KB
// (PARAMS over one record: PHP-FPM reset the connection, 502), a script
// looping on error_log (its stderr is bounded in the edge's log), and the
// classic cgi.fix_pathinfo path (an uploaded .jpg is never run as PHP).
func TestBrkFcgiEdgeInFrontOfPHPFPMAttacked(t *testing.T) {
	dir := t.TempDir()
	sock := fastcgiStartPHPFPM(t, dir)
	www := filepath.Join(dir, "www")
	os.MkdirAll(filepath.Join(www, "uploads"), 0o755)
	os.WriteFile(filepath.Join(www, "headers.php"), []byte(`<?php $n = 0; foreach ($_SERVER as $k => $v) { if (strncmp($k, 'HTTP_X_H', 8) == 0) { $n++; } } echo "headers=$n";`), 0o644)
	os.WriteFile(filepath.Join(www, "stderr.php"), []byte(`<?php for ($i = 0; $i < 3000; $i++) { error_log(str_repeat('E', 1000)); } echo "ok";`), 0o644)
	os.WriteFile(filepath.Join(www, "uploads", "evil.jpg"), []byte(`<?php echo "EVIL RAN";`), 0o644)
	os.WriteFile(filepath.Join(dir, "stack.yaml"), []byte(fmt.Sprintf(`
run_dir: run
admin:
  listen: ""
edge:
  listen: ["127.0.0.1:0"]
  max_header_size: 512KiB
  locations:
    - {path: /, upstream: php}
  upstreams:
    php: {protocol: fastcgi, servers: ["unix:%s"], root: %s}
`, sock, www)), 0o644)
	edge := start(t, dir, "edge")
	base := strings.TrimSuffix(edge.url(), "/")

	req, _ := http.NewRequest("GET", base+"/headers.php", nil)
	for i := range 200 {
		req.Header.Set(fmt.Sprintf("X-H%d", i), strings.Repeat("b", 1000))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "headers=200" {
		t.Errorf("200 headers of 1 KB: %d %q", resp.StatusCode, b)
	}

	before := len(edge.Output())
	if code, _, body := get(t, base+"/stderr.php"); code != 200 || body != "ok" {
		t.Errorf("stderr flood: %d %q", code, body)
	}
	time.Sleep(200 * time.Millisecond)
	logged := len(edge.Output()) - before
	t.Logf("3 MB of PHP stderr: %d bytes in the edge's log", logged)
	if logged > 256<<10 {
		t.Errorf("one request's stderr put %d bytes in the edge's log", logged)
	}

	for _, path := range []string{"/uploads/evil.jpg/x.php", "/uploads/evil.jpg", "/uploads/evil.jpg%00.php", "/uploads/evil.jpg/.php"} {
		code, _, body := get(t, base+path)
		if strings.Contains(body, "EVIL RAN") || code == 200 {
			t.Errorf("GET %s ran the upload as PHP: %d %q", path, code, body)
		}
	}
}
