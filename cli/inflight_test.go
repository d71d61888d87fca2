package cli

import (
	"testing"
	"time"

	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/edge/upstream"
)

// The upstream whose one server is the stack's own app server is capped
// at 8 requests in flight per worker process, its wait bounded by the app
// server's queue_timeout; any other upstream, and the file's own config,
// are left alone.
func TestEdgeConfigCapsTheOwnAppServer(t *testing.T) {
	f := new(config.Default())
	f.Appserver.Listen = "unix:run/app.sock"
	f.Appserver.Processes = 3
	f.Appserver.QueueTimeout = 2 * time.Second
	up := func(servers ...string) upstream.Config {
		u := upstream.Default()
		u.Servers = servers
		return u
	}
	f.Edge.Upstreams = map[string]upstream.Config{
		"app":   up("unix:./run/app.sock weight=2"),
		"uwsgi": up("unix:run/other.sock"),
		"two":   up("unix:run/app.sock", "unix:run/other.sock"),
		"http":  func() upstream.Config { u := up("unix:run/app.sock"); u.Protocol = "http"; return u }(),
		"tcp":   up("127.0.0.1:3031"),
	}
	cfg := edgeConfig(f)
	for name, want := range map[string]int{"app": 24, "uwsgi": 0, "two": 0, "http": 0, "tcp": 0} {
		if got := cfg.Upstreams[name].InFlight; got != want {
			t.Errorf("%s: in flight %d, want %d", name, got, want)
		}
	}
	if q := cfg.Upstreams["app"].QueueTimeout; q != 2*time.Second {
		t.Errorf("queue timeout %v", q)
	}
	if f.Edge.Upstreams["app"].InFlight != 0 {
		t.Error("the file's own config was changed")
	}
	f.Appserver.Processes = 0 // one process: no cap (not measured)
	if got := edgeConfig(f).Upstreams["app"].InFlight; got != 0 {
		t.Errorf("processes 0: in flight %d", got)
	}
}
