package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// configProc is a stack command started with extra environment variables
// (the shared start helper clears STACK_*, which the config tests need).
type configProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

func (p *configProc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *configProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// configStart starts the binary in dir with env added to a clean
// environment. The process is killed at the end of the test if it runs.
func configStart(t *testing.T, dir string, env []string, args ...string) *configProc {
	t.Helper()
	return configStartAs(t, dir, env, false, args...)
}

// configStartAs is configStart, the process leading a process group of
// its own if group (for signals to the whole group, as a terminal's ^C);
// the group is killed at the end of the test.
func configStartAs(t *testing.T, dir string, env []string, group bool, args ...string) *configProc {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: group}
	p := &configProc{t: t, cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p, p
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if group {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// configRun runs a short command to completion: its output and exit code.
func configRun(t *testing.T, dir string, env []string, args ...string) (string, int) {
	t.Helper()
	p := configStart(t, dir, env, args...)
	code, ok := p.exit(30 * time.Second)
	if !ok {
		t.Fatalf("stack %s did not finish within 30s:\n%s", strings.Join(args, " "), p.output())
	}
	return p.output(), code
}

// exit waits up to d for the process to end and returns its exit code.
func (p *configProc) exit(d time.Duration) (int, bool) {
	select {
	case <-p.done:
	case <-time.After(d):
		return 0, false
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode(), true
	}
	if p.err != nil {
		return -1, true
	}
	return 0, true
}

// serving waits for the announced URL, or for the process to end ("").
func (p *configProc) serving(d time.Duration) string {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if m := announce.FindStringSubmatch(p.output()); m != nil {
			return m[1]
		}
		select {
		case <-p.done:
			return ""
		case <-time.After(20 * time.Millisecond):
		}
	}
	return ""
}

// stopWith sends sig and returns the exit code.
func (p *configProc) stopWith(sig syscall.Signal) int {
	p.t.Helper()
	p.cmd.Process.Signal(sig)
	code, ok := p.exit(30 * time.Second)
	if !ok {
		p.t.Fatalf("stack did not exit within 30s of %v:\n%s", sig, p.output())
	}
	return code
}

// traceEnv has every process print its package inits, and a race build
// exit at once.
func traceEnv() []string {
	return []string{"GODEBUG=inittrace=1", quickExit()}
}

// quickExit has a race build exit at once, not a second later (the race
// detector's default).
func quickExit() string {
	return "GORACE=" + os.Getenv("GORACE") + " atexit_sleep_ms=0"
}

// waitCount waits up to d until p's output from offset from has n
// occurrences of s; false if it does not (or p ended first).
func (p *configProc) waitCount(from int, s string, n int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if strings.Count(p.output()[from:], s) >= n {
			return true
		}
		select {
		case <-p.done:
			return strings.Count(p.output()[from:], s) >= n
		default:
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// assertNothingLeft fails t if, shortly after p ended, a process still
// runs in dir (a worker of p: they all start there) or a socket file is
// left in dir/run.
func assertNothingLeft(t *testing.T, what, dir string, p *configProc) {
	t.Helper()
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		left = left[:0]
		procs, _ := filepath.Glob("/proc/[0-9]*/cwd")
		for _, c := range procs {
			if d, err := os.Readlink(c); err == nil && d == real {
				left = append(left, filepath.Base(filepath.Dir(c)))
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("%s: processes left running in the stack's directory: %v\n%s", what, left, p.output())
	}
	if socks, _ := filepath.Glob(filepath.Join(dir, "run", "*.sock")); len(socks) > 0 {
		t.Errorf("%s: socket files left: %v\n%s", what, socks, p.output())
	}
}

// workerChildren returns the children of master that run appserver-worker
// (exec'd: a child not yet exec'd runs the master's command line), each
// with its process group.
func workerChildren(master int) map[int]int {
	kids := map[int]int{}
	for pid, c := range childProcesses(master) {
		if strings.Contains(c.cmdline, "\x00appserver-worker") {
			kids[pid] = c.pgrp
		}
	}
	return kids
}

// child is a process as /proc shows it.
type child struct {
	cmdline string // its arguments, each ended by a NUL
	pgrp    int
}

// childProcesses returns the children of parent by pid.
func childProcesses(parent int) map[int]child {
	kids := map[int]child{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		i := bytes.LastIndexByte(b, ')')
		if err != nil || i < 0 {
			continue
		}
		// pid (comm) state ppid pgrp ...
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 3 || f[1] != strconv.Itoa(parent) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(filepath.Dir(st), "cmdline"))
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(st)))
		pgrp, _ := strconv.Atoi(f[2])
		kids[pid] = child{cmdline: string(cmdline), pgrp: pgrp}
	}
	return kids
}
