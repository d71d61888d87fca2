package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// A way of serving the app: how to start it, and what it is.
type way struct {
	Name  string // short, for files and the JSON
	Title string // for the table and the plots
	Wire  string // the protocol between the tiers, for the bytes-on-the-wire figure; "" none
	Slow  bool   // measured while slowClients slow clients upload (slow.go)
	start func(r *runner, dir, addr string) ([]*exec.Cmd, error)
}

// slowClients is how many slow clients the slow-client ways run.
const slowClients = 200

// slowThreads is the app's worker pool in the slow-client ways, in both
// setups, as a uWSGI or runserver deployment has a fixed number.
const slowThreads = 16

func stackUp(extra string) func(r *runner, dir, addr string) ([]*exec.Cmd, error) {
	return func(r *runner, dir, addr string) ([]*exec.Cmd, error) {
		yaml := fmt.Sprintf("run_dir: %s\nedge:\n  listen: [%q]\n  response_buffer_size: 1MiB\nappserver:\n  app: %s\n%s", filepath.Join(dir, "run"), addr, r.app, extra)
		c, err := r.stack(dir, yaml, "up")
		return []*exec.Cmd{c}, err
	}
}

// ways lists every way, peers last.
func ways(withPeers bool) []way {
	ws := []way{
		{Name: "cgi", Title: "CGI (fork+exec per request)", start: func(r *runner, dir, addr string) ([]*exec.Cmd, error) {
			c, err := r.command(dir, "bench", "serve-cgi", "--listen", addr, "--app", r.app, "--set", "run_dir="+filepath.Join(dir, "run"), "--log-level", "error")
			return []*exec.Cmd{c}, err
		}},
		{Name: "fastcgi", Title: "edge → FastCGI → net/http/fcgi", Wire: "fastcgi", start: stackUp("  protocol: fastcgi\n")},
		{Name: "uwsgi-p0", Title: "edge → uwsgi → appserver (processes 0)", Wire: "uwsgi", start: stackUp("")},
		{Name: "uwsgi-p2", Title: "edge → uwsgi → appserver (processes 2)", Wire: "uwsgi", start: stackUp("  processes: 2\n")},
		{Name: "http", Title: "edge → HTTP keep-alive → net/http", Wire: "http", start: stackUp("  protocol: http\n")},
		{Name: "one-tier", Title: "one tier: net/http alone", start: func(r *runner, dir, addr string) ([]*exec.Cmd, error) {
			yaml := fmt.Sprintf("run_dir: %s\nappserver:\n  listen: %q\n  protocol: http\n  app: %s\n", filepath.Join(dir, "run"), addr, r.app)
			c, err := r.stack(dir, yaml, "appserver")
			return []*exec.Cmd{c}, err
		}},
		{Name: "one-tier-slow", Title: fmt.Sprintf("one tier, %d slow uploads", slowClients), Slow: true, start: func(r *runner, dir, addr string) ([]*exec.Cmd, error) {
			yaml := fmt.Sprintf("run_dir: %s\nappserver:\n  listen: %q\n  protocol: http\n  app: echo\n  threads: %d\n", filepath.Join(dir, "run"), addr, slowThreads)
			c, err := r.stack(dir, yaml, "appserver")
			return []*exec.Cmd{c}, err
		}},
		{Name: "three-tier-slow", Title: fmt.Sprintf("three tiers, %d slow uploads", slowClients), Wire: "uwsgi", Slow: true, start: func(r *runner, dir, addr string) ([]*exec.Cmd, error) {
			yaml := fmt.Sprintf("run_dir: %s\nedge:\n  listen: [%q]\nappserver:\n  app: echo\n  threads: %d\n", filepath.Join(dir, "run"), addr, slowThreads)
			c, err := r.stack(dir, yaml, "up")
			return []*exec.Cmd{c}, err
		}},
	}
	if withPeers {
		ws = append(ws, peerWays()...)
	}
	return ws
}

// runner starts the ways' processes.
type runner struct {
	binary string // the stack binary
	app    string // hello or polls
}

// benchAdmin turns off the admin HTTP listener of every process a way
// runs: its default, 127.0.0.1:8001, is one fixed port, which the user's
// own stack (or the way before) may hold, and the bench does not use it.
const benchAdmin = "admin:\n  listen: \"\"\n"

// stack writes yaml (and benchAdmin) as dir/stack.yaml and runs the stack
// binary's cmd on it.
func (r *runner) stack(dir, yaml, cmd string) (*exec.Cmd, error) {
	path := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(path, []byte(yaml+benchAdmin), 0o600); err != nil {
		return nil, err
	}
	return r.command(dir, cmd, "-c", path, "--log-level", "error")
}

// command starts the stack binary with args in dir, in a process group of
// its own, its output in dir/output.log.
func (r *runner) command(dir string, args ...string) (*exec.Cmd, error) {
	return startProcess(dir, r.binary, args...)
}

func startProcess(dir, name string, args ...string) (*exec.Cmd, error) {
	log, err := os.Create(filepath.Join(dir, filepath.Base(name)+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("bench: starting %s: %w", name, err)
	}
	log.Close() // the child has its own copy
	return cmd, nil
}

// stopAll stops the processes (their whole groups): SIGTERM, then SIGKILL
// after 5 s, and reaps them.
func stopAll(cmds []*exec.Cmd) {
	for _, c := range cmds {
		syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
	}
	for _, c := range cmds {
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
}

// waitReady polls url until it answers below 500, or 30 s pass, or a
// process exits.
func waitReady(ctx context.Context, url string, cmds []*exec.Cmd) error {
	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
			err = errors.New(resp.Status)
		}
		for _, c := range cmds {
			if exited(c) {
				return fmt.Errorf("%s exited", c.Path)
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not ready within 30s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// exited reports whether c's process has ended. Nothing has reaped it yet
// (stopAll does), so an ended process is a zombie, which kill(pid, 0)
// still finds: its state in /proc says it.
func exited(c *exec.Cmd) bool {
	if c.ProcessState != nil || syscall.Kill(c.Process.Pid, 0) != nil {
		return true
	}
	f := procStat(c.Process.Pid)
	return len(f) == 0 || f[0] == "Z" || f[0] == "X"
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
