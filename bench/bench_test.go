package bench

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/config"
)

// Options that cannot be measured are refused before anything starts: a
// cell of 0 connections waited forever for a request no connection sent,
// and a negative count panicked.
func TestRunRefusesBadConnections(t *testing.T) {
	for _, conns := range [][]int{{0}, {1, -5}} {
		o := Options{Binary: "/nonexistent", App: "hello", Duration: time.Second, Connections: conns, Out: t.TempDir()}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		rep, err := Run(ctx, o)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "--connections") || rep != nil {
			t.Errorf("connections %v: %v, %v; want an error naming --connections", conns, rep, err)
		}
	}
	o := Options{Binary: "/nonexistent", App: "hello", Duration: time.Second, Warmup: -time.Second, Connections: []int{1}, Out: t.TempDir()}
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "--warmup") {
		t.Errorf("warmup -1s: %v; want an error naming --warmup", err)
	}
}

// A way whose process exits at once (here, a stack.yaml it refuses) fails
// with "exited" as soon as it is seen, not after waitReady's 30 s: the
// unreaped child is a zombie, which kill(pid, 0) still finds.
func TestWaitReadySeesAnExitedProcess(t *testing.T) {
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	c, err := startProcess(t.TempDir(), "/bin/sh", "-c", "exit 3")
	if err != nil {
		t.Fatal(err)
	}
	defer stopAll([]*exec.Cmd{c})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	err = waitReady(ctx, "http://"+addr+"/", []*exec.Cmd{c})
	t.Logf("waitReady returned after %v: %v", time.Since(start).Round(time.Millisecond), err)
	if err == nil || !strings.Contains(err.Error(), "exited") {
		t.Errorf("waitReady = %v; want the process's exit", err)
	}
}

// Every stack.yaml the bench writes turns off the admin listener, whose
// fixed default port (127.0.0.1:8001) made every stack way fail when
// anything else held it.
func TestBenchStackYAMLTurnsAdminOff(t *testing.T) {
	dir := t.TempDir()
	r := &runner{binary: "/bin/true", app: "hello"}
	c, err := r.stack(dir, "run_dir: run\n", "up")
	if err != nil {
		t.Fatal(err)
	}
	stopAll([]*exec.Cmd{c})
	f, err := config.Load(config.Options{Path: filepath.Join(dir, "stack.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	if f.Admin.Listen != "" {
		t.Errorf("admin.listen = %q in the bench's stack.yaml; want it off", f.Admin.Listen)
	}
}

// A --ways name that is not a way is refused, naming it: it ran nothing
// and exited 0 with an empty table. A peer way needs --with-peers.
func TestRunRefusesUnknownWays(t *testing.T) {
	for _, c := range []struct {
		only  []string
		peers bool
		want  string
	}{
		{[]string{"http", "nope"}, false, `"nope": no such way`},
		{[]string{"nginx-fastcgi-stack"}, false, "--with-peers"},
	} {
		o := Options{Binary: "/nonexistent", App: "hello", Duration: time.Second, Connections: []int{1}, Out: t.TempDir(), Only: c.only, WithPeers: c.peers}
		rep, err := Run(context.Background(), o)
		if err == nil || !strings.Contains(err.Error(), c.want) || rep != nil {
			t.Errorf("--ways %v: %v, %v; want an error with %q", c.only, rep, err, c.want)
		}
	}
}
