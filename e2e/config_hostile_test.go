package e2e

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// configAsNobody runs the binary as user nobody (uid 65534) in dir, for
// what only an unprivileged user meets (root may write anywhere): the
// binary is copied where nobody can run it. It returns the output and
// the exit code; a command still running after 3s is stopped with
// SIGTERM and counts as started (code -1).
func configAsNobody(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	bin := filepath.Join(dir, "stack")
	if _, err := os.Stat(bin); err != nil {
		src, err := os.Open(binary)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(dst, src); err != nil {
			t.Fatal(err)
		}
		dst.Close()
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return out.String(), ee.ExitCode()
		}
		return out.String(), 0
	case <-time.After(3 * time.Second):
		cmd.Process.Signal(syscall.SIGTERM)
		<-done
		return out.String(), -1
	}
}

// A run_dir this user cannot create, or cannot write to, a socket
// directory it cannot write to, a static root it cannot open, or a
// privileged port, passed `stack check`, and `stack up` then
// failed with "permission denied". Check and up must agree, for an
// unprivileged user too.
func TestCheckAgreesWithUpOnRunDirPermissions(t *testing.T) {
	// Not t.TempDir: its parent is 0700, and nobody must reach dir.
	dir, err := os.MkdirTemp("", "stack-e2e-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	for _, sub := range []string{"readonly", "rootsonly"} {
		os.Mkdir(filepath.Join(dir, sub), 0o755)
	}
	os.Chmod(filepath.Join(dir, "readonly"), 0o555)
	os.Chmod(filepath.Join(dir, "rootsonly"), 0o700)
	mine := filepath.Join(dir, "mine")
	os.Mkdir(mine, 0o700)
	os.Chown(mine, 65534, 65534)
	readonly := filepath.Join(dir, "readonly")
	private := filepath.Join(dir, "static") // nobody may see it, not open it
	os.Mkdir(private, 0o700)
	rootDB := filepath.Join(dir, "root.sqlite3") // nobody may read it, not write it
	os.WriteFile(rootDB, nil, 0o644)
	for _, tc := range []struct {
		runDir, listen string // listen "" follows run_dir
		valid          bool
		want           string
		sets           []string
	}{
		{filepath.Join(readonly, "run"), "", false, "run_dir: cannot create " + filepath.Join(readonly, "run") + ": directory " + readonly + ": permission denied", nil},
		{filepath.Join(dir, "rootsonly"), "", false, "run_dir: " + filepath.Join(dir, "rootsonly") + ": permission denied", nil},
		{filepath.Join(mine, "run"), "unix:" + filepath.Join(readonly, "app.sock"), false, "appserver.listen: socket directory " + readonly + ": permission denied", nil},
		{filepath.Join(mine, "run"), "", false, "edge.locations[0].root: open " + private + ": permission denied",
			[]string{"edge.locations=[{path: /static/, root: " + private + "}, {path: /, upstream: app}]"}},
		{filepath.Join(mine, "run"), "", false, `"127.0.0.1:81": port 81 is privileged (below 1024) and this user (uid 65534) may not bind it`,
			[]string{"edge.listen=127.0.0.1:81"}},
		{filepath.Join(mine, "run"), "", false, "apps.polls.database: " + rootDB + ": permission denied (the app writes to it)",
			[]string{"appserver.app=polls", "apps.polls.database=" + rootDB}},
		{filepath.Join(mine, "run"), "", false, "apps.polls.database: cannot create " + filepath.Join(readonly, "db", "polls.sqlite3") + ": directory " + readonly + ": permission denied",
			[]string{"appserver.app=polls", "apps.polls.database=" + filepath.Join(readonly, "db", "polls.sqlite3")}},
		{filepath.Join(mine, "run"), "", true, "", nil},
	} {
		args := []string{"--set", "run_dir=" + tc.runDir, "--set", "edge.listen=127.0.0.1:0", "--set", "appserver.app=hello"}
		if tc.listen != "" {
			args = append(args, "--set", "appserver.listen="+tc.listen)
		}
		for _, kv := range tc.sets {
			args = append(args, "--set", kv)
		}
		out, code := configAsNobody(t, dir, append([]string{"check"}, args...)...)
		if (code == 0) != tc.valid || !strings.Contains(out, tc.want) {
			t.Errorf("check with run_dir %s, listen %q: exit %d, want valid=%v and %q:\n%s", tc.runDir, tc.listen, code, tc.valid, tc.want, out)
		}
		out, code = configAsNobody(t, dir, append([]string{"up"}, args...)...)
		if started := code == -1; started != tc.valid || !strings.Contains(out, tc.want) {
			t.Errorf("up with run_dir %s, listen %q: exit %d (-1: started), want started=%v and %q:\n%s", tc.runDir, tc.listen, code, tc.valid, tc.want, out)
		}
	}
}

// Each of these passed `stack check`, and `stack up` then failed at start
// (the app's template_dirs or database when the app was built, a socket
// path taken by a file, a listen address of another machine, a run_dir
// linking nowhere) or restarted a process forever (a program that cannot
// run). Now both refuse them with the same message.
func TestCheckAgreesWithUpOnAppPaths(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a database\n"), 0o600)
	os.Symlink(filepath.Join(dir, "gone"), filepath.Join(dir, "dangling"))
	for _, set := range []string{
		"edge.listen=192.0.2.1:8000",
		"run_dir=dangling",
		"processes=[{name: worker, command: [no-such-program-anywhere]}]",
		"processes=[{name: worker, command: [./notes.txt]}]",
		"apps.polls.template_dirs=missing",
		"apps.polls.template_dirs=notes.txt",
		"apps.polls.database=notes.txt",
		"apps.polls.database=notes.txt/polls.sqlite3",
		"appserver.listen=unix:notes.txt",
	} {
		args := []string{"--set", "run_dir=run", "--set", "edge.listen=127.0.0.1:0", "--set", set}
		key, _, _ := strings.Cut(set, "=")
		out, code := configRun(t, dir, nil, append([]string{"check"}, args...)...)
		if code == 0 || !strings.Contains(out, "--set "+key+": "+key) {
			t.Errorf("check --set %s: exit %d, want the key refused:\n%s", set, code, out)
		}
		out, code = configRun(t, dir, nil, append([]string{"up"}, args...)...)
		if code == 0 || !strings.Contains(out, "--set "+key+": "+key) {
			t.Errorf("up --set %s: exit %d, want the same refusal before it starts:\n%s", set, code, out)
		}
	}
}

// Ctrl-C twice: the second SIGINT during the graceful stop killed the
// stack at once (Go's default), and a process group that ignores SIGTERM
// kept running with nobody left to kill it. Now the second signal ends
// the grace period: the group gets SIGKILL and the stack exits 0.
func TestConfigSecondSignalLeavesNoOrphans(t *testing.T) {
	dir := writeConfig(t, strings.Replace(configBase, "shutdown_timeout: 5s", "shutdown_timeout: 60s", 1)+`processes:
  - name: stubborn
    command: [sh, -c, "trap '' TERM; sleep 300 & echo $! > pid; wait"]
`)
	p := configStart(t, dir, nil, "up")
	if p.serving(30*time.Second) == "" {
		t.Fatalf("did not start:\n%s", p.output())
	}
	var pid int
	deadline := time.Now().Add(10 * time.Second)
	for pid == 0 && time.Now().Before(deadline) {
		b, _ := os.ReadFile(filepath.Join(dir, "pid"))
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		time.Sleep(20 * time.Millisecond)
	}
	if pid == 0 {
		t.Fatalf("the process did not start its sleep:\n%s", p.output())
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	if _, done := p.exit(500 * time.Millisecond); done {
		t.Fatalf("the stack did not wait for the process that ignores SIGTERM:\n%s", p.output())
	}
	if code := p.stopWith(syscall.SIGINT); code != 0 {
		t.Errorf("exit %d after the second SIGINT, want 0:\n%s", code, p.output())
	}
	if !strings.Contains(p.output(), "during the graceful stop; stopping now") {
		t.Errorf("the second signal was not logged:\n%s", p.output())
	}
	if configAlive(pid) {
		t.Errorf("the process's sleep (pid %d) outlived the stack", pid)
		syscall.Kill(pid, syscall.SIGKILL)
	}
}
