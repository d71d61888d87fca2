package e2e

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// stack check refuses a negative max_in_flight, naming the key, and
// takes a cap.
func TestEdgeInFlightCheck(t *testing.T) {
	for n, want := range map[string]string{
		"-1": "edge.upstreams.app.max_in_flight: -1; must be 0 (no cap) or more",
		"16": "",
	} {
		dir := writeConfig(t, `
edge:
  listen: ["127.0.0.1:0"]
  locations:
    - {path: /, upstream: app}
  upstreams:
    app: {servers: ["unix:run/app.sock"], max_in_flight: `+n+`}
appserver: {listen: unix:run/app.sock, app: hello}
`)
		stdout, stderr, code := run(t, dir, "check")
		if (code == 0) != (want == "") || !strings.Contains(stdout+stderr, want) {
			t.Errorf("max_in_flight %s: exit %d, want %q:\n%s%s", n, code, want, stdout, stderr)
		}
	}
}

// The real stack with two workers, the edge capping the requests on the
// app server's connections at 16 and holding the rest in its queue: 64
// connections lose no request; then clients that give up while queued
// or in flight (a 2 ms timeout, so their connections close with requests
// waiting) leak no slot: a load after them is answered in full.
func TestEdgeInFlightCapLosesNothing(t *testing.T) {
	dir := writeConfig(t, edgeInFlightConf(16))
	_, host := upHost(t, dir)
	full := load{Addr: host, Conns: 64}.run(t, nil, 3*time.Second)
	t.Logf("64 connections, 3 s: %v", full)
	if full.Failed() != 0 || full.OK == 0 {
		t.Fatalf("under the cap: %v", full)
	}
	impatient := load{Addr: host, Conns: 64, Timeout: 2 * time.Millisecond}.run(t, nil, time.Second)
	t.Logf("64 connections giving up after 2 ms: %v", impatient)
	after := load{Addr: host, Conns: 32}.run(t, nil, 2*time.Second)
	t.Logf("after them, 32 connections, 2 s: %v", after)
	if after.Failed() != 0 || after.OK == 0 {
		t.Fatalf("after clients gave up: %v", after)
	}
}

// A SIGHUP that changes max_in_flight under load (4 -> 16 -> off) fails
// no request: the requests of the old configuration give their slots back
// to its own queue, and the new one starts with its own.
func TestEdgeInFlightReloadUnderLoad(t *testing.T) {
	conf := edgeInFlightConf
	dir := writeConfig(t, conf(4))
	p, host := upHost(t, dir)
	done := make(chan *loadResult)
	go func() { done <- load{Addr: host, Conns: 32}.run(t, nil, 3*time.Second) }()
	time.Sleep(700 * time.Millisecond)
	edgeReload(t, p, conf(16), edgeReloaded)
	time.Sleep(700 * time.Millisecond)
	edgeReload(t, p, conf(0), edgeReloaded)
	res := <-done
	t.Logf("32 connections, 3 s, two reloads: %v", res)
	if res.Failed() != 0 || res.OK == 0 {
		t.Fatalf("across the reloads: %v", res)
	}
}

// edgeInFlightConf is stack up's hello behind the edge, 2 workers, with
// max_in_flight n.
func edgeInFlightConf(n int) string {
	return fmt.Sprintf(`
run_dir: run
edge:
  listen: ["127.0.0.1:0"]
  access_log: "off"
  locations:
    - {path: /, upstream: app}
  upstreams:
    app: {servers: ["unix:run/app.sock"], max_in_flight: %d}
appserver:
  listen: unix:run/app.sock
  app: hello
  processes: 2
`, n)
}

// upHost starts stack up in dir and returns it with the edge's host:port.
func upHost(t *testing.T, dir string) (*proc, string) {
	t.Helper()
	p := start(t, dir, "up")
	u, err := url.Parse(p.url())
	if err != nil {
		t.Fatal(err)
	}
	return p, u.Host
}
