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

// TestReleaseFailureStopsUpAndNothingListens: a release step that fails
// stops `stack up` with exit status 1 and a message showing the command
// and its output; neither the edge's port nor the app server's socket was
// ever open, during the release or after it.
func TestReleaseFailureStopsUpAndNothingListens(t *testing.T) {
	port := freePort(t)
	dir := writeConfig(t, fmt.Sprintf(`
edge:
  listen: ["127.0.0.1:%d"]
release:
  - [sh, -c, "echo first step ran > first"]
  - [sh, -c, "touch started; sleep 1; echo 'migrating: table question already exists' >&2; exit 3"]
  - [sh, -c, "touch third"]
appserver:
  app: hello
`, port))
	p := configStart(t, dir, opsFastExit, "up")
	sock := filepath.Join(dir, "run", "app.sock")
	opsWaitPath(t, filepath.Join(dir, "started"))
	opsNothingListens(t, port, sock)
	code, ok := p.exit(30 * time.Second)
	if !ok {
		t.Fatalf("up did not exit after a failed release:\n%s", p.output())
	}
	out := p.output()
	if code != 1 {
		t.Fatalf("exit status %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{
		`release[1] "sh -c touch started; sleep 1; echo 'migrating: table question already exists' >&2; exit 3" failed: exit status 3`,
		"its output:\nmigrating: table question already exists",
		"[release] migrating: table question already exists", // shown as it ran, too
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "stack: serving") {
		t.Errorf("up announced serving after a failed release:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "first")); err != nil {
		t.Errorf("the first step did not run before the failing one: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "third")); err == nil {
		t.Errorf("the step after the failing one ran")
	}
	opsNothingListens(t, port, sock)
}

// TestReleaseRunsInOrderBeforeServing: steps run in order, "stack" is
// this binary with the same configuration (stack migrate applies polls'
// migrations to the run_dir the file names; stack check, a child process,
// reads the same file), and the stack serves after the last step. Without a release key polls' default is stack migrate;
// `release: []` runs nothing.
func TestReleaseRunsInOrderBeforeServing(t *testing.T) {
	port := freePort(t)
	dir := writeConfig(t, fmt.Sprintf(`
run_dir: data
apps: {polls: {debug: true}}
edge:
  listen: ["127.0.0.1:%d"]
release:
  - [sh, -c, "echo one >> order"]
  - [stack, migrate]
  - [stack, check]
  - [sh, -c, "test -s data/polls.sqlite3 && echo two >> order"]
`, port))
	p := configStart(t, dir, opsFastExit, "up")
	if p.serving(60*time.Second) == "" {
		t.Fatalf("up did not serve:\n%s", p.output())
	}
	out := p.output()
	mig := strings.Index(out, "[release]   [1/2] Applying polls.0001_initial... OK")
	serving := strings.Index(out, "stack: serving polls")
	if mig < 0 || serving < mig {
		t.Fatalf("stack migrate did not run before serving:\n%s", out)
	}
	if !strings.Contains(out, "[release] stack.yaml: configuration is valid") {
		t.Errorf("[stack, check] did not check the same file:\n%s", out)
	}
	if got, _ := readFile(filepath.Join(dir, "order")); got != "one\ntwo\n" {
		t.Errorf("order file %q, want the steps in order", got)
	}
	if code := p.stopWith(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}

	for cfg, want := range map[string]string{
		"":              "release: [[stack, migrate]]",
		"release: []\n": "release: []",
	} {
		d := writeConfig(t, cfg+"apps: {polls: {debug: true}}\n")
		got, code := configRun(t, d, opsFastExit, "config")
		if code != 0 || !strings.Contains(got, want+"\n") {
			t.Errorf("stack config with %q: exit %d, want %q in:\n%s", cfg, code, want, got)
		}
	}
}

// opsWaitPath polls until path exists.
func opsWaitPath(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within 30s", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// opsNothingListens fails the test if the edge port accepts a connection
// or the app server's socket exists.
func opsNothingListens(t *testing.T, port int, sock string) {
	t.Helper()
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		c.Close()
		t.Errorf("something listens on the edge port %d", port)
	}
	if _, err := os.Stat(sock); err == nil {
		t.Errorf("the app server's socket %s exists", sock)
	}
}

// With appserver.user, the release commands run as the workers do (what
// they write, the database, must be the workers'), [stack, migrate]
// included: as a child with the workers' credential.
func TestReleaseRunsAsTheWorkersUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root") // the test machine runs as root
	}
	dir := writeConfig(t, workersConfig("  user: nobody\n  group: nogroup\nrelease:\n  - [sh, -c, 'echo \"release uid $(id -u)\"']\n  - [stack, migrate]\n"))
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	data, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "stack")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	p := startBinary(t, dir, bin, "up")
	p.url()
	out := p.Output()
	for _, want := range []string{"[release] release uid 65534", "[release] stack: app echo has no migrations"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// opsFastExit is added to the environment of the commands these tests
// run: a binary built with -race sleeps a second at exit unless told not
// to, which every short command (and release child) would pay.
// Options the caller's GORACE sets are kept.
var opsFastExit = []string{"GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")}
