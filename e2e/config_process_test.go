package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Issue 16 item 7: in subprocess mode an edge child that cannot bind
// stopped nothing: it was restarted forever. Now the stack exits non-zero,
// as in-process mode does. (`stack up` binds the tiers' sockets itself
// now, which it holds across their restarts: the address in use is
// reported before any child starts.)
func TestConfigSubprocessChildFailingAtStartStopsTheStack(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := writeConfig(t, strings.Replace(configBase, "127.0.0.1:0", busy.Addr().String(), 1)+"mode: subprocess\n")
	p := configStart(t, dir, nil, "up")
	code, ok := p.exit(20 * time.Second)
	if !ok {
		t.Fatalf("the stack kept running with an edge that cannot bind:\n%s", p.output())
	}
	out := p.output()
	if code == 0 || !strings.Contains(out, "edge: listen on") || !strings.Contains(out, "address already in use") {
		t.Errorf("exit %d, want non-zero naming the edge and the cause:\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "run", "app.sock")); err == nil {
		t.Errorf("the appserver child was left running or its socket behind")
	}
}

// configAlive reports whether pid runs (a zombie is dead).
func configAlive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// Issue 15 item 9: the sleep 300 of every generation of a restarted
// process died with it, and none outlives the stack.
func TestConfigSupervisedProcessLeavesNoOrphans(t *testing.T) {
	dir := writeConfig(t, configBase+`processes:
  - name: p
    command: [sh, -c, "sleep 300 & echo $! >> pids; sleep 1; exit 3"]
    restart: always
`)
	p := configStart(t, dir, nil, "up")
	if p.serving(30*time.Second) == "" {
		t.Fatalf("did not start:\n%s", p.output())
	}
	var pids []int
	read := func() {
		b, _ := os.ReadFile(filepath.Join(dir, "pids"))
		pids = pids[:0]
		for _, f := range strings.Fields(string(b)) {
			n, _ := strconv.Atoi(f)
			pids = append(pids, n)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for read(); len(pids) < 2; read() {
		if time.Now().After(deadline) {
			t.Fatalf("no restart within 20s:\n%s", p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code := p.stopWith(syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d:\n%s", code, p.output())
	}
	read()
	time.Sleep(100 * time.Millisecond) // SIGKILL is delivered at once, but let the kernel finish
	for _, pid := range pids {
		if configAlive(pid) {
			t.Errorf("sleep 300 (pid %d) outlived the stack", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// Issue 16 item 10: stack config printed the secret key in clear.
func TestConfigRedactsSecrets(t *testing.T) {
	dir := writeConfig(t, configBase)
	env := []string{"STACK_APPS_POLLS_SECRET_KEY=hunter2-secret"}
	out, code := configRun(t, dir, env, "config")
	if code != 0 || strings.Contains(out, "hunter2") || !strings.Contains(out, "secret_key: '********************'") {
		t.Errorf("stack config: exit %d, want the key redacted:\n%s", code, out)
	}
	out, code = configRun(t, dir, env, "config", "--show-secrets")
	if code != 0 || !strings.Contains(out, "secret_key: hunter2-secret") {
		t.Errorf("stack config --show-secrets: exit %d:\n%s", code, out)
	}
}

// Issue 16 item 14: collectstatic "" copied into the current directory,
// and the read-only commands warned about a secret key they never use.
func TestConfigReadOnlyCommands(t *testing.T) {
	dir := t.TempDir()
	out, code := configRun(t, dir, nil, "collectstatic", "")
	if code == 0 || !strings.Contains(out, "DIR is empty") {
		t.Errorf("collectstatic \"\": exit %d:\n%s", code, out)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("collectstatic \"\" wrote into the current directory: %v", entries)
	}
	for _, args := range [][]string{{"routes"}, {"collectstatic", "static"}} {
		out, code := configRun(t, dir, nil, args...)
		if code != 0 || strings.Contains(out, "secret_key") {
			t.Errorf("stack %s: exit %d, want no secret key warning:\n%s", args[0], code, out)
		}
	}
}
