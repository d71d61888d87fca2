package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Tests of what only exists with every part merged: both tiers reloading
// together, the edge's buffering in front of worker processes, queue time
// stamped by the edge and read by a worker.

// interplayGet sends one GET on a fresh connection (no retry, no client
// library) and returns the status line's code, or 0 and the error.
func interplayGet(addr, path string) (int, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return 0, err
	}
	var code int
	if _, err := fmt.Sscanf(line, "HTTP/1.1 %d", &code); err != nil {
		return 0, fmt.Errorf("status line %q: %w", line, err)
	}
	return code, nil
}

// A SIGHUP whose file moves appserver.listen is refused, naming the key: the
// appserver's master cannot move its socket in place, and the edge, whose
// default upstream is appserver.listen, had followed it to a socket nobody
// listened on — every request then got 502 until a restart.
func TestInterplayReloadMovingTheAppserverSocketIsRefused(t *testing.T) {
	for _, mode := range []string{"inprocess", "subprocess"} {
		t.Run(mode, func(t *testing.T) {
			cfg := func(sock string) string {
				return `
mode: ` + mode + `
run_dir: run
shutdown_timeout: 5s
edge:
  listen: ["127.0.0.1:0"]
  locations:
    - {path: /, upstream: app}
appserver:
  listen: unix:run/` + sock + `
  app: echo
  processes: 2
`
			}
			dir := writeConfig(t, cfg("app.sock"))
			p := start(t, dir, "up")
			addr := strings.TrimPrefix(strings.TrimSuffix(p.url(), "/"), "http://")
			waitFile(t, filepath.Join(dir, "run", "app.sock"))
			if code, err := interplayGet(addr, "/"); code != 200 {
				t.Fatalf("before the reload: %d %v", code, err)
			}
			before := strings.Count(p.Output(), "reload refused")
			os.WriteFile(filepath.Join(dir, "stack.yaml"), []byte(cfg("app2.sock")), 0o644)
			p.cmd.Process.Signal(syscall.SIGHUP)
			deadline := time.Now().Add(10 * time.Second)
			for strings.Count(p.Output(), "reload refused") == before {
				if time.Now().After(deadline) {
					t.Fatalf("no refusal within 10s of SIGHUP:\n%s", p.Output())
				}
				time.Sleep(20 * time.Millisecond)
			}
			if !strings.Contains(p.Output(), "appserver.listen") {
				t.Errorf("the refusal does not name appserver.listen:\n%s", p.Output())
			}
			time.Sleep(300 * time.Millisecond) // a reload, had one started, reaches the edge
			for i := 0; i < 5; i++ {
				if code, err := interplayGet(addr, "/"); code != 200 {
					t.Fatalf("after the refused reload, request %d: %d %v", i, code, err)
				}
			}
			// The same file back is a plain reload again.
			os.WriteFile(filepath.Join(dir, "stack.yaml"), []byte(cfg("app.sock")), 0o644)
			edgeReload(t, p, cfg("app.sock"), "msg=reloaded tier=edge")
			if code, err := interplayGet(addr, "/"); code != 200 {
				t.Fatalf("after a good reload: %d %v", code, err)
			}
			if code := p.stop(syscall.SIGTERM); code != 0 {
				t.Errorf("exit %d", code)
			}
		})
	}
}

// One SIGHUP after another reloads both tiers (a new edge configuration,
// every worker replaced) under keep-alive load while workers are also
// SIGKILLed: no GET fails (a worker that dies before answering costs the
// edge one retry), the process is left with two ready workers and stops
// with status 0.
func TestInterplayReloadWhileKillingWorkersUnderLoad(t *testing.T) {
	for _, mode := range []string{"inprocess", "subprocess"} {
		t.Run(mode, func(t *testing.T) {
			yaml := func(keepalive string) string {
				return strings.Replace(workersConfig(""), "edge:\n", "mode: "+mode+"\nedge:\n  keepalive_timeout: "+keepalive+"\n", 1)
			}
			p, dir, addr := interplayStart(t, yaml("75s"))
			stop := make(chan struct{})
			done := make(chan *loadResult)
			go func() { done <- load{Addr: addr, Conns: 6, Timeout: 5 * time.Second}.run(t, stop, 15*time.Second) }()
			end := time.Now().Add(4 * time.Second)
			for i := 0; time.Now().Before(end); i++ {
				time.Sleep(250 * time.Millisecond)
				if i%2 == 0 {
					os.WriteFile(filepath.Join(dir, "stack.yaml"), []byte(yaml(fmt.Sprintf("%ds", 60+i))), 0o644)
					p.cmd.Process.Signal(syscall.SIGHUP)
					continue
				}
				s, _ := workersReadStats(t, dir)
				for _, w := range s.Workers {
					if w.PID != 0 && w.ID == i%4/2+1 {
						syscall.Kill(w.PID, syscall.SIGKILL)
					}
				}
			}
			time.Sleep(time.Second)
			close(stop)
			res := <-done
			t.Logf("%s: %s", mode, res)
			if res.Failed() != 0 || res.OK == 0 {
				t.Errorf("GETs failed during reloads and kills: %s", res)
			}
			workersPIDs(t, dir, 2)
			if !strings.Contains(p.Output(), `status="signal: killed"`) {
				t.Errorf("no worker was killed:\n%s", p.Output())
			}
			if n := strings.Count(p.Output(), "msg=reloaded tier=appserver"); n == 0 {
				t.Errorf("no reload of the appserver was logged:\n%s", p.Output())
			}
			if code := p.stop(syscall.SIGTERM); code != 0 {
				t.Errorf("exit %d", code)
			}
			if _, err := os.Stat(filepath.Join(dir, "run", "app.sock")); err == nil {
				t.Errorf("the appserver socket is left behind")
			}
		})
	}
}

// interplayStart is workersStart for either mode: in subprocess mode the
// edge announces itself before the appserver child has its stats socket.
func interplayStart(t *testing.T, cfg string) (*proc, string, string) {
	t.Helper()
	dir := writeConfig(t, cfg)
	p := start(t, dir, "up")
	addr := strings.TrimPrefix(strings.TrimSuffix(p.url(), "/"), "http://")
	waitFile(t, filepath.Join(dir, "run", "stats.sock"))
	workersPIDs(t, dir, 2)
	return p, dir, addr
}

// SIGTERM under keep-alive load with what holds a stop open: a client
// stalled mid-upload (its body in an unlinked temp file), one being
// lingered on after a 413, and one that reads nothing of a long stream. The
// stack exits 0 within shutdown_timeout (and a little), no worker is left,
// and the socket is gone. In subprocess mode the edge child used the whole
// deadline and the appserver child, stopped after it, got SIGKILL at once:
// its socket file was left behind.
func TestInterplaySIGTERMWithLingeringAndSlowReaders(t *testing.T) {
	for _, mode := range []string{"inprocess", "subprocess"} {
		t.Run(mode, func(t *testing.T) {
			cfg := strings.Replace(workersConfig(""), "shutdown_timeout: 5s", "shutdown_timeout: 2s", 1)
			cfg = strings.Replace(cfg, "edge:\n", "mode: "+mode+"\nedge:\n  client_body_buffer_size: 1KiB\n  client_max_body_size: 1MiB\n", 1)
			p, dir, addr := interplayStart(t, cfg)
			pids := workersPIDs(t, dir, 2)
			dial := func() net.Conn {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				return c
			}
			// Stalled upload: half of a 100 kB body, then nothing.
			up := dial()
			fmt.Fprintf(up, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n%s", strings.Repeat("u", 50000))
			// Lingered: a 5 MiB body is refused with 413 at once; the
			// client goes on sending, slowly.
			lg := dial()
			fmt.Fprintf(lg, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5242880\r\n\r\n")
			stopLinger := make(chan struct{})
			go func() {
				for {
					select {
					case <-stopLinger:
						return
					case <-time.After(100 * time.Millisecond):
						if _, err := lg.Write(make([]byte, 512)); err != nil {
							return
						}
					}
				}
			}()
			defer close(stopLinger)
			// A reader that reads nothing of a long stream.
			sr := dial()
			fmt.Fprintf(sr, "GET /stream/1000 HTTP/1.1\r\nHost: x\r\n\r\n")
			stop := make(chan struct{})
			done := make(chan *loadResult)
			go func() { done <- load{Addr: addr, Conns: 4, Timeout: 5 * time.Second}.run(t, stop, 10*time.Second) }()
			time.Sleep(700 * time.Millisecond)
			begin := time.Now()
			code := p.stop(syscall.SIGTERM)
			took := time.Since(begin)
			close(stop)
			res := <-done
			t.Logf("%s: exit %d after %v; load: %s", mode, code, took, res)
			if code != 0 {
				t.Errorf("exit %d, want 0", code)
			}
			if took > 2*time.Second+1500*time.Millisecond {
				t.Errorf("stop took %v, shutdown_timeout is 2s", took)
			}
			for id, pid := range pids {
				if alive(pid) {
					t.Errorf("worker %d (pid %d) still alive", id, pid)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "run", "app.sock")); err == nil {
				t.Errorf("app.sock left behind")
			}
			if left, _ := os.ReadDir(filepath.Join(dir, "run", "tmp")); len(left) != 0 {
				t.Errorf("temp files left behind: %v", left)
			}
		})
	}
}

// A reload that points the edge away from the app server it runs beside
// is warned about as at start (it is as likely a typo); it was applied
// silently and every request got 502.
func TestInterplayReloadWarnsWhenTheEdgeLeavesTheAppserver(t *testing.T) {
	cfg := workersConfig("")
	dir := writeConfig(t, cfg)
	p := start(t, dir, "up")
	p.url()
	waitFile(t, filepath.Join(dir, "run", "stats.sock"))
	const warn = "no upstream that edge.locations use has appserver.listen"
	if strings.Contains(p.Output(), warn) {
		t.Fatalf("warned at start:\n%s", p.Output())
	}
	edgeReload(t, p, strings.Replace(cfg, `servers: ["unix:run/app.sock"]`, `servers: ["unix:run/ap.sock"]`, 1), "msg=reloaded tier=edge")
	if !strings.Contains(p.Output(), warn) {
		t.Errorf("the reload that leaves the app server was not warned about:\n%s", p.Output())
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// A reload that shortens shutdown_timeout bounds the next stop: the value
// read at start was kept for ever (README: a valid configuration is
// applied), so a stop could wait ten times longer than the file said.
func TestInterplayReloadAppliesShutdownTimeout(t *testing.T) {
	for _, mode := range []string{"inprocess", "subprocess"} {
		t.Run(mode, func(t *testing.T) {
			cfg := strings.Replace(workersConfig(""), "shutdown_timeout: 5s", "mode: "+mode+"\nshutdown_timeout: 30s", 1)
			p, _, addr := interplayStart(t, cfg)
			edgeReload(t, p, strings.Replace(cfg, "shutdown_timeout: 30s", "shutdown_timeout: 1s", 1), "msg=reloaded tier=appserver")
			// A request that outlasts the new timeout, in flight at SIGTERM.
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "GET /delay/20 HTTP/1.1\r\nHost: x\r\n\r\n")
			time.Sleep(300 * time.Millisecond)
			begin := time.Now()
			code := p.stop(syscall.SIGTERM)
			took := time.Since(begin)
			t.Logf("%s: exit %d after %v", mode, code, took)
			if took > 5*time.Second {
				t.Errorf("stop took %v; the reloaded shutdown_timeout is 1s", took)
			}
		})
	}
}
