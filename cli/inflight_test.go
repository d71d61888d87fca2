package cli

import (
	"testing"
	"time"

	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/edge/upstream"
)

// A capped upstream whose one server is the stack's own app server waits
// at most the app server's queue_timeout; any other upstream, an uncapped
// one, and the file's own config are left alone.
func TestEdgeConfigBoundsTheWaitForTheOwnAppServer(t *testing.T) {
	f := new(config.Default())
	f.Appserver.Listen = "unix:run/app.sock"
	f.Appserver.QueueTimeout = 2 * time.Second
	up := func(capped bool, servers ...string) upstream.Config {
		u := upstream.Default()
		u.Servers = servers
		if capped {
			u.MaxInFlight = 16
		}
		return u
	}
	f.Edge.Upstreams = map[string]upstream.Config{
		"app":      up(true, "unix:./run/app.sock weight=2"),
		"uncapped": up(false, "unix:run/app.sock"),
		"uwsgi":    up(true, "unix:run/other.sock"),
		"two":      up(true, "unix:run/app.sock", "unix:run/other.sock"),
		"http":     func() upstream.Config { u := up(true, "unix:run/app.sock"); u.Protocol = "http"; return u }(),
		"tcp":      up(true, "127.0.0.1:3031"),
	}
	cfg := edgeConfig(f)
	for name, want := range map[string]time.Duration{"app": 2 * time.Second, "uncapped": 0, "uwsgi": 0, "two": 0, "http": 0, "tcp": 0} {
		if got := cfg.Upstreams[name].QueueTimeout; got != want {
			t.Errorf("%s: queue timeout %v, want %v", name, got, want)
		}
	}
	if f.Edge.Upstreams["app"].QueueTimeout != 0 {
		t.Error("the file's own config was changed")
	}
}
