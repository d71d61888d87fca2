// Package e2e holds the end-to-end tests: they build the stack binary,
// start it as a user would (`stack up`, `stack edge`, `stack appserver`) on
// temporary directories and free ports, talk to it over real sockets, and
// stop it with real signals. The interop tests put the real peers, Debian's
// nginx and uWSGI, on either side of it.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stack-web/stack/internal/testport"
)

// binary is the stack binary built once for all tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stack-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "stack")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "../cmd/stack")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building the stack binary:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running stack command.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	dir    string
	mu     sync.Mutex
	out    bytes.Buffer // stdout and stderr
	done   chan struct{}
	err    error
	served chan string // the URL of the first "stack: serving ... at URL" line
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out.Write(b)
	return len(b), nil
}

// Output returns everything the process printed so far.
func (p *proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

var announce = regexp.MustCompile(`stack: (?:serving \S+ at|edge listening on) (http://\S+/)`)

// start runs the stack binary with args in dir and returns once it has
// announced where it listens (or, for the appserver alone, once it runs).
// The process is killed at the end of the test if still running.
func start(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	return startCmd(t, cmd, "stack "+strings.Join(args, " "), nil)
}

// startCmd starts cmd (the stack binary, however it is run), collecting its
// output and the address it announces, and kills it at the end of the test
// if it still runs: with kill, or cmd.Process.Kill when kill is nil. name
// labels its output in a failed test's log.
func startCmd(t *testing.T, cmd *exec.Cmd, name string, kill func()) *proc {
	t.Helper()
	p := &proc{t: t, cmd: cmd, dir: cmd.Dir, done: make(chan struct{}), served: make(chan string, 1)}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if kill == nil {
		kill = func() { cmd.Process.Kill() }
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			p.Write([]byte(line + "\n"))
			if m := announce.FindStringSubmatch(line); m != nil {
				select {
				case p.served <- m[1]:
				default:
				}
			}
		}
	}()
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", name, p.Output())
		}
	})
	return p
}

// url waits for the announced URL.
func (p *proc) url() string {
	p.t.Helper()
	select {
	case u := <-p.served:
		return u
	case <-p.done:
		p.t.Fatalf("stack exited before serving: %v\n%s", p.err, p.Output())
	case <-time.After(60 * time.Second):
		p.t.Fatalf("stack did not announce a URL within 60s:\n%s", p.Output())
	}
	return ""
}

// stop sends sig and returns the exit code.
func (p *proc) stop(sig syscall.Signal) int {
	p.t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.t.Fatalf("stack did not exit within 30s of %v:\n%s", sig, p.Output())
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	p.t.Fatalf("waiting for stack: %v", p.err)
	return -1
}

// run runs a short stack command to completion.
func run(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go func() { <-ctx.Done(); cmd.Process.Kill() }()
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// cleanEnv is the environment without STACK_* variables of the caller,
// and with the admin surface off (its default port would collide between
// tests run in parallel; the admin tests turn it on).
func cleanEnv() []string {
	env := []string{"STACK_ADMIN_LISTEN=", "STACK_ADMIN_SOCKET="}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STACK_") {
			env = append(env, kv)
		}
	}
	return env
}

// writeConfig writes stack.yaml into a new temporary directory.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "stack.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// freePort returns a loopback port that was free a moment ago, for peers
// (nginx) and flags (admin.listen) that cannot report the port they
// picked. It is drawn from below the ephemeral range, so a connection
// another test opens meanwhile cannot take it (testport says why).
func freePort(t *testing.T) int {
	t.Helper()
	port, err := testport.Free()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// waitHTTP polls url until it answers (any status) or the deadline passes.
func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within 30s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitFile polls until path exists.
func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within 30s", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	return doWith(t, http.DefaultClient, http.MethodGet, url)
}

// doWith makes one request with c and returns its status, header and body.
func doWith(t *testing.T, c *http.Client, method, url string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}
