package edge

import (
	"testing"

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
