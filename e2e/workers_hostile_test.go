package e2e

import (
	"bufio"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stack-web/stack/uwsgi"
	"github.com/stack-web/stack/uwsgi/uwsgitest"
)

// Tests from a hostile user's and a harsh operator's attempts to break the
// worker processes.

// hostileDeployable starts `stack up` from a copy of the binary under dir,
// which deploy replaces (as a rebuilt binary would be).
func hostileDeployable(t *testing.T, cfg string) (p *proc, dir string, deploy func([]byte)) {
	t.Helper()
	dir = writeConfig(t, cfg)
	bin := filepath.Join(dir, "stack")
	good, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	deploy = func(data []byte) {
		tmp := bin + ".new"
		if err := os.WriteFile(tmp, data, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, bin); err != nil {
			t.Fatal(err)
		}
	}
	deploy(good)
	p = startBinary(t, dir, bin, "up")
	p.url()
	workersPIDs(t, dir, 2)
	return p, dir, deploy
}

// SIGTERM while a chain reload waits for a new worker that hangs at boot:
// the stack stops within shutdown_timeout, not after worker_ready_timeout
// (the reload must not hold the signals back), and nothing is left.
func TestWorkersSIGTERMDuringAHangingReload(t *testing.T) {
	cfg := strings.Replace(workersConfig("  worker_ready_timeout: 60s\n"), "shutdown_timeout: 5s", "shutdown_timeout: 2s", 1)
	p, dir, deploy := hostileDeployable(t, cfg)
	deploy([]byte("#!/bin/sh\nexec sleep 120\n"))
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, p, "chain reload: replacing", 5*time.Second)
	time.Sleep(300 * time.Millisecond) // the hanging worker is started
	began := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("stack still running 15s after SIGTERM during a reload (worker_ready_timeout 60s):\n%s", p.Output())
	}
	t.Logf("SIGTERM during a hanging reload: exited after %v", time.Since(began).Round(time.Millisecond))
	if p.err != nil {
		t.Errorf("exit: %v, want status 0", p.err)
	}
	if _, err := os.Stat(filepath.Join(dir, "run", "app.sock")); err == nil {
		t.Errorf("the socket file is left after SIGTERM")
	}
	if out := p.Output(); strings.Contains(out, "reload failed") {
		t.Errorf("a reload ended by the stop is logged as a failure:\n%s", out)
	}
}

// hostileApp starts `stack appserver` with the echo app in two workers and
// returns the app socket's path.
func hostileApp(t *testing.T, extra string) (*proc, string) {
	t.Helper()
	dir := writeConfig(t, `
run_dir: run
appserver:
  listen: unix:run/app.sock
  app: echo
  processes: 2
  stats: unix:run/stats.sock
`+extra)
	p := start(t, dir, "appserver")
	waitFile(t, filepath.Join(dir, "run", "stats.sock"))
	workersPIDs(t, dir, 2)
	return p, filepath.Join(dir, "run", "app.sock")
}

// hostilePacket is a uwsgi request for method and path with extra vars.
func hostilePacket(t *testing.T, method, path string, extra ...[2]string) []byte {
	t.Helper()
	var e uwsgi.Encoder
	e.Reset(nil, 0, 0)
	for _, kv := range append([][2]string{{"REQUEST_METHOD", method}, {"PATH_INFO", path}, {"REQUEST_URI", path},
		{"SERVER_PROTOCOL", "HTTP/1.1"}, {"HTTP_HOST", "x"}}, extra...) {
		e.Add(kv[0], kv[1])
	}
	b, err := e.Bytes(0)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A body shorter than its CONTENT_LENGTH, sent to a worker (the peer
// half-closes, or stalls past socket_timeout): the app sees the read error
// and echo answers 400, never a 200 computed on half a body.
func TestWorkersShortBodyIs400(t *testing.T) {
	_, sock := hostileApp(t, "  socket_timeout: 1s\n")
	pkt := hostilePacket(t, "POST", "/", [2]string{"CONTENT_LENGTH", "100"})
	for _, halfClose := range []bool{true, false} {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write(append(pkt, strings.Repeat("x", 10)...))
		if halfClose {
			c.(*net.UnixConn).CloseWrite()
		}
		b, _ := io.ReadAll(c)
		c.Close()
		if !strings.HasPrefix(string(b), "HTTP/1.1 400 ") {
			t.Errorf("10 of 100 body bytes (half-close %v): got %.60q, want a 400", halfClose, b)
		}
	}
}

// A SIGHUP during the graceful stop is ignored: the request in flight
// still gets its answer, the exit status is 0 and the socket is removed
// (the default action of SIGHUP would kill the stack). A second SIGTERM,
// by contrast, ends the grace period (supervisor's
// TestSecondSignalStopsNowAndKillsTheGroup).
func TestWorkersSignalsDuringTheStop(t *testing.T) {
	p, dir, addr := workersStart(t, workersConfig(""))
	got := make(chan string, 1)
	go func() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET /delay/1.5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		b, _ := io.ReadAll(c)
		got <- string(b)
	}()
	time.Sleep(300 * time.Millisecond)
	p.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond)
	p.cmd.Process.Signal(syscall.SIGHUP)
	if code := p.stop(syscall.SIGHUP); code != 0 {
		t.Errorf("exit status %d after signals during the stop, want 0", code)
	}
	if out := <-got; !strings.HasPrefix(out, "HTTP/1.1 200 ") {
		t.Errorf("the request in flight got %.60q, want a 200", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "run", "app.sock")); err == nil {
		t.Error("the socket file is left")
	}
}

// The log's reader goes away (`stack up | head`, a log shipper restarted):
// writes to stderr fail, but the stack keeps serving and still stops
// cleanly. By default a Go program dies of SIGPIPE on a write to a broken
// stdout or stderr, taking the workers and the socket files with it.
func TestWorkersSurviveABrokenLogPipe(t *testing.T) {
	dir := writeConfig(t, workersConfig(""))
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "up")
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, cleanEnv(), pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	exited := make(chan error, 1)
	gone := make(chan struct{})
	go func() { exited <- cmd.Wait(); close(gone) }()
	defer func() {
		cmd.Process.Kill() // if still running
		<-gone
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	pr.Close() // the reader is gone: every later log line hits EPIPE
	m := announce.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("first line %q does not announce the URL", line)
	}
	u, _ := url.Parse(m[1])
	deadline := time.Now().Add(5 * time.Second)
	for {
		res := load{Addr: u.Host, Conns: 2}.run(t, nil, 300*time.Millisecond)
		if res.OK > 0 && res.Failed() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not serving with a broken log pipe: %s", res)
		}
	}
	select {
	case err := <-exited:
		t.Fatalf("stack exited with a broken log pipe: %v", err)
	default:
	}
	cmd.Process.Signal(syscall.SIGHUP) // logs a lot
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM with a broken log pipe: %v, want status 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit 15s after SIGTERM")
	}
	if _, err := os.Stat(filepath.Join(dir, "run", "app.sock")); err == nil {
		t.Error("the socket file is left")
	}
}

// Hostile uwsgi packets against `stack appserver` with worker processes:
// each closes only its own connection; no worker dies.
func TestWorkersSurviveHostilePackets(t *testing.T) {
	dir := writeConfig(t, `
run_dir: run
appserver:
  listen: unix:run/app.sock
  app: echo
  processes: 2
  buffer_size: 4096
  stats: unix:run/stats.sock
`)
	app := start(t, dir, "appserver")
	sock := filepath.Join(dir, "run", "app.sock")
	waitFile(t, filepath.Join(dir, "run", "stats.sock"))
	workersPIDs(t, dir, 2)
	spawns := func() (n int) {
		s, _ := workersReadStats(t, dir)
		for _, w := range s.Workers {
			n += w.RespawnCount
		}
		return n
	}
	before := spawns()
	big := make([]byte, 4+60000)
	big[1], big[2] = 0x60, 0xea
	for _, bad := range [][]byte{
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		{0, 0xff, 0xff, 0, 1, 2, 3},
		{0, 9, 0, 0, 4, 0, 'A'},
		{0, 4, 0, 0, 0xff, 0xff, 0, 0},
		big,
		{0},
	} {
		for range 10 {
			uwsgitest.Send(t, sock, bad)
		}
	}
	for range 4 {
		if resp, body := uwsgitest.Do(t, sock, "GET", uwsgitest.Request("GET", "/after", "")); resp.StatusCode != 200 {
			t.Fatalf("no 200 after hostile packets: %d %s", resp.StatusCode, body)
		}
	}
	if after := spawns(); after != before {
		t.Errorf("respawn_count went from %d to %d: a worker died", before, after)
	}
	if strings.Contains(app.Output(), "worker died") {
		t.Errorf("a worker died:\n%s", app.Output())
	}
}
