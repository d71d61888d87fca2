package edge

import (
	"strings"

	"testing"

	"github.com/stack-web/stack/edge/upstream"

	"github.com/stack-web/stack/edge/limit"
)

// Two virtual hosts' locations of one path, each with its own rate limit,
// get a zone each: the scope is the server and the path, not the path.
func TestLimitZonePerServerLocation(t *testing.T) {
	var lz limitZones
	cfg := DefaultConfig()
	a := LocationConfig{Path: "/api/", Upstream: "app", RateLimit: mustRate(t, "10r/s", 1)}
	b := LocationConfig{Path: "/api/", Upstream: "app", RateLimit: mustRate(t, "1000r/s", 50)}
	za, _ := lz.zones(&cfg, &a, "a.test")
	zb, _ := lz.zones(&cfg, &b, "b.test")
	if za == nil || zb == nil {
		t.Fatal("no zone made for a location's own rate_limit")
	}
	if za == zb {
		t.Fatal("two servers' /api/ locations share one rate-limit zone, so one server's limit applies to the other")
	}
	if again, _ := lz.zones(&cfg, &a, "a.test"); again != za {
		t.Error("the same server and path made a second zone")
	}
}

func mustRate(t *testing.T, s string, burst int) *limit.RateConfig {
	r, err := limit.ParseRate(s)
	if err != nil {
		t.Fatal(err)
	}
	return &limit.RateConfig{Rate: r, Burst: burst}
}

// The limits and WebSocket keys of a virtual host's locations are checked
// as the top-level locations' are.
func TestServerLocationLimitsAreValidated(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Locations = nil
	up := upstream.Default()
	up.Servers = []string{"unix:/tmp/x.sock"}
	cfg.Upstreams = map[string]upstream.Config{"app": up}
	bad := mustRate(t, "10r/s", -1)
	cfg.Servers = []ServerConfig{{Names: []string{"a.test"}, Default: true, Locations: []LocationConfig{
		{Path: "/", Upstream: "app", RateLimit: bad, WebSocket: WebSocketConfig{IdleTimeout: -1}},
	}}}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("a server location's negative burst and idle_timeout were accepted")
	}
	for _, want := range []string{"servers[0].locations[0].rate_limit", "servers[0].locations[0].websocket.idle_timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
}
