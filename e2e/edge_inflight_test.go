package e2e

import (
	"net/url"
	"os/exec"
	"testing"
	"time"
)

// The real stack with two workers, so the edge caps the requests on the
// app server's connections (16) and holds the rest in its queue: 64
// connections lose no request; then clients that give up while queued
// or in flight (a 2 ms timeout, so their connections close with requests
// waiting) leak no slot: a load after them is answered in full.
func TestEdgeInFlightCapLosesNothing(t *testing.T) {
	dir := writeConfig(t, `
run_dir: run
edge:
  listen: ["127.0.0.1:0"]
  access_log: "off"
  locations:
    - {path: /, upstream: app}
  upstreams:
    app: {servers: ["unix:run/app.sock"]}
appserver:
  listen: unix:run/app.sock
  app: hello
  processes: 2
`)
	cmd := exec.Command(binary, "up")
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	p := startCmd(t, cmd, "stack up", nil)
	u, err := url.Parse(p.url())
	if err != nil {
		t.Fatal(err)
	}
	full := load{Addr: u.Host, Conns: 64}.run(t, nil, 3*time.Second)
	t.Logf("64 connections, 3 s: %v", full)
	if full.Failed() != 0 || full.OK == 0 {
		t.Fatalf("under the cap: %v", full)
	}
	impatient := load{Addr: u.Host, Conns: 64, Timeout: 2 * time.Millisecond}.run(t, nil, time.Second)
	t.Logf("64 connections giving up after 2 ms: %v", impatient)
	after := load{Addr: u.Host, Conns: 32}.run(t, nil, 2*time.Second)
	t.Logf("after them, 32 connections, 2 s: %v", after)
	if after.Failed() != 0 || after.OK == 0 {
		t.Fatalf("after clients gave up: %v", after)
	}
}
