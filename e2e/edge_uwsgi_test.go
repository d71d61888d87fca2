package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The bare WSGI hello of the speed goals: no Content-Length, so uWSGI ends
// its answer by closing the connection.
const edgeUwsgiHello = `def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/html')])
    return [b'<h1>Hello, web!</h1>']
`

// edgeUwsgiOpenFiles counts the files a process has open.
func edgeUwsgiOpenFiles(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// `stack edge` alone in front of Debian's uWSGI (2 workers, the bare hello,
// as scripts/bench.sh measures it), a connection per request: under load
// every request is answered whole, nothing is lost, and the edge holds no
// more files afterwards than before. When uWSGI goes away, leaving its
// socket file (refused) or not (missing), the edge answers 502.
func TestEdgeUwsgiBareHelloUnderLoad(t *testing.T) {
	uwsgi := need(t, "uwsgi")
	dir := writeConfig(t, `
run_dir: run
edge:
  listen: ["127.0.0.1:0"]
  access_log: "off"
  upstreams:
    app: {servers: ["unix:app.sock"], retries: 0}
`)
	os.WriteFile(filepath.Join(dir, "hello.py"), []byte(edgeUwsgiHello), 0o644)
	sock := filepath.Join(dir, "app.sock")
	u := daemon(t, dir, uwsgi, "--plugin", "python3", "--master", "--processes", "2", "--socket", sock,
		"--chmod-socket=600", "--wsgi-file", filepath.Join(dir, "hello.py"), "--need-app", "--die-on-term", "--disable-logging")
	waitFile(t, sock)
	edge := start(t, dir, "edge")
	base := strings.TrimSuffix(edge.url(), "/")
	addr := strings.TrimPrefix(base, "http://")

	sized := 0
	for range 20 {
		resp, err := http.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(b) != "<h1>Hello, web!</h1>" {
			t.Fatalf("got %d %q (%v)", resp.StatusCode, b, err)
		}
		if resp.ContentLength == 20 {
			sized++
		}
	}
	t.Logf("%d of 20 close-ended answers reached the client with their length", sized)

	warm := load{Addr: addr, Conns: 16, Timeout: 10 * time.Second}.run(t, nil, 500*time.Millisecond)
	if warm.Failed() != 0 {
		t.Fatalf("warm-up: %s", warm)
	}
	pid := edge.cmd.Process.Pid
	before := edgeUwsgiOpenFiles(t, pid)
	res := load{Addr: addr, Conns: 32, Timeout: 10 * time.Second}.run(t, nil, 2*time.Second)
	t.Logf("32 connections for 2s: %s", res)
	if res.Failed() != 0 || res.OK == 0 {
		t.Errorf("under load: %s; want every request answered 200", res)
	}
	// In front of a server that closes every connection, the edge alone
	// runs on half the CPUs (cli/internal/procstune).
	if runtime.NumCPU() >= 2 && !strings.Contains(edge.Output(), "scheduler threads set by how the app servers on this host answer") {
		t.Errorf("the edge did not size its scheduler by uWSGI's closed connections; output:\n%s", edge.Output())
	}
	after := edgeUwsgiOpenFiles(t, pid)
	for deadline := time.Now().Add(5 * time.Second); after > before && time.Now().Before(deadline); after = edgeUwsgiOpenFiles(t, pid) {
		time.Sleep(20 * time.Millisecond)
	}
	if after > before {
		t.Errorf("the edge has %d files open after the load, %d before", after, before)
	}

	// uWSGI goes; its socket file stays (no --vacuum): refused, 502.
	syscall.Kill(-u.Process.Pid, syscall.SIGTERM)
	for deadline := time.Now().Add(10 * time.Second); syscall.Kill(u.Process.Pid, 0) == nil && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	for _, name := range []string{"refused", "missing"} {
		if name == "missing" {
			os.Remove(sock)
		}
		resp, err := http.Get(base + "/")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 502 {
			t.Errorf("%s socket: %d, want 502", name, resp.StatusCode)
		}
	}
}
