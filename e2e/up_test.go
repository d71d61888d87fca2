package e2e

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stack-web/stack/uwsgi/uwsgitest"
)

// helloConfig serves the hello app on a free port with its own run_dir.
const helloConfig = `
run_dir: run
shutdown_timeout: 5s
edge:
  listen: ["127.0.0.1:0"]
  locations:
    - {path: /, upstream: app}
  upstreams:
    app: {servers: ["unix:run/app.sock"]}
appserver:
  listen: unix:run/app.sock
  app: hello
`

func TestUpServesThroughEveryTierAndStopsCleanly(t *testing.T) {
	dir := writeConfig(t, helloConfig)
	p := start(t, dir, "up")
	url := p.url()

	code, hdr, body := get(t, url)
	if code != 200 || body != "Hello, web!" {
		t.Fatalf("GET %s = %d %q", url, code, body)
	}
	if hdr.Get("Content-Length") != "11" {
		t.Errorf("Content-Length %q", hdr.Get("Content-Length"))
	}
	sock := filepath.Join(dir, "run", "app.sock")
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket %s: %v %v", sock, fi, err)
	}
	if rd, _ := os.Stat(filepath.Join(dir, "run")); rd.Mode().Perm() != 0o700 {
		t.Errorf("run_dir mode %v, want 0700", rd.Mode().Perm())
	}

	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file still there after stop: %v", err)
	}
}

func TestSIGTERMFinishesRequestsInFlight(t *testing.T) {
	dir := writeConfig(t, strings.Replace(helloConfig, "app: hello", "app: echo", 1))
	p := start(t, dir, "up")
	url := p.url()
	var wg sync.WaitGroup
	results := make(chan int, 5)
	for range 5 {
		wg.Go(func() {
			resp, err := http.Get(url + "delay/1")
			if err != nil {
				results <- -1
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			results <- resp.StatusCode
		})
	}
	time.Sleep(300 * time.Millisecond) // the requests are in the app now
	start := time.Now()
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	wg.Wait()
	close(results)
	for code := range results {
		if code != 200 {
			t.Errorf("a request in flight at SIGTERM got %d, want 200", code)
		}
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("stopped after %v: it did not wait for the requests in flight", d)
	}
	if _, err := http.Get(url); err == nil {
		t.Error("still accepting after stop")
	}
}

func TestEdgeAnswers502UntilTheAppserverIsUp(t *testing.T) {
	dir := writeConfig(t, helloConfig)
	edge := start(t, dir, "edge")
	url := edge.url()
	if code, _, _ := get(t, url); code != 502 {
		t.Fatalf("with no appserver: %d, want 502", code)
	}
	app := start(t, dir, "appserver")
	waitFile(t, filepath.Join(dir, "run", "app.sock"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _, body := get(t, url)
		if code == 200 && body == "Hello, web!" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("edge still answers %d with the appserver up", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := app.stop(syscall.SIGINT); code != 0 {
		t.Errorf("appserver exit %d after SIGINT", code)
	}
	if code := edge.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("edge exit %d after SIGTERM", code)
	}
}

func TestMalformedPacketLeavesTheAppserverServing(t *testing.T) {
	dir := writeConfig(t, strings.Replace(helloConfig, "app: hello", "app: echo", 1))
	app := start(t, dir, "appserver")
	sock := filepath.Join(dir, "run", "app.sock")
	waitFile(t, sock)
	for _, bad := range [][]byte{
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		{0, 0xff, 0xff, 0, 1, 2, 3},
		{0, 9, 0, 0, 4, 0, 'A'},
	} {
		uwsgitest.Send(t, sock, bad)
	}
	// A well-formed request on a new connection is answered.
	resp, b := uwsgitest.Do(t, sock, "GET", uwsgitest.Request("GET", "/after", ""))
	if resp.StatusCode != 200 || !strings.Contains(b, `"path": "/after"`) {
		t.Errorf("%d %s", resp.StatusCode, b)
	}
	if !strings.Contains(app.Output(), "bad packet") {
		t.Errorf("no log line for the malformed packets:\n%s", app.Output())
	}
}

func TestCheckListsEveryProblem(t *testing.T) {
	dir := writeConfig(t, `
shutdown_timeout: 10 parsecs
edge:
  listen: ["127.0.0.1:8000"]
  colour: blue
`)
	_, stderr, code := run(t, dir, "check")
	if code == 0 {
		t.Fatalf("stack check exit 0 on a bad file:\n%s", stderr)
	}
	for _, want := range []string{"stack.yaml", "shutdown_timeout", `"10 parsecs" is not a duration`, "edge.colour: unknown key"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stack check output lacks %q:\n%s", want, stderr)
		}
	}

	good := writeConfig(t, helloConfig)
	stdout, stderr, code := run(t, good, "check")
	if code != 0 || !strings.Contains(stdout, "valid") {
		t.Errorf("stack check on a good file: %d %s %s", code, stdout, stderr)
	}
}

func TestConfigPrintsTheEffectiveConfiguration(t *testing.T) {
	dir := writeConfig(t, helloConfig)
	cmd := []string{"config", "--set", "appserver.threads=7"}
	stdout, stderr, code := run(t, dir, cmd...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"app: hello", "threads: 7", "client_max_body_size: 1MiB", "shutdown_timeout: 5s"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stack config lacks %q:\n%s", want, stdout)
		}
	}
}

func TestVersion(t *testing.T) {
	stdout, _, code := run(t, t.TempDir(), "version")
	if code != 0 || !strings.Contains(stdout, "stack ") || !strings.Contains(stdout, "go1.") {
		t.Errorf("version: %d %q", code, stdout)
	}
}

func TestSubprocessModeRunsEachTierAsAChild(t *testing.T) {
	dir := writeConfig(t, "mode: subprocess\n"+helloConfig)
	p := start(t, dir, "up")
	url := p.url()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _, body := get(t, url)
		if code == 200 && body == "Hello, web!" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer through the child tiers: %d %q\n%s", code, body, p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The parent holds the tiers' sockets, so the first request may be
	// queued and answered before a child's "serving" line has come
	// through the parent's output: wait for the lines a while.
	for _, want := range []string{"[edge] stack: edge listening on", "[appserver] stack: appserver serving hello"} {
		for until := time.Now().Add(5 * time.Second); !strings.Contains(p.Output(), want); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(until) {
				t.Errorf("output lacks %q:\n%s", want, p.Output())
				break
			}
		}
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "run", "app.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left behind: %v", err)
	}
}
