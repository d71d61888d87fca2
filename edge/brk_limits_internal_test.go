package edge

import "testing"

// Two locations of one path and server that differ by methods (or by
// header), each with its own rate limit, get a zone each: they shared the
// first one's zone, so the second's rate and burst were silently ignored.
// (That each zone has its own location's settings: edge/internal/limitzone.)
func TestBrkLimitZonePerLocationConditions(t *testing.T) {
	var lz limitZones
	cfg := DefaultConfig()
	post := LocationConfig{Path: "/api/", Upstream: "app", Methods: []string{"POST"}, RateLimit: mustRate(t, "1r/s", 0)}
	get := LocationConfig{Path: "/api/", Upstream: "app", Methods: []string{"GET"}, RateLimit: mustRate(t, "1000r/s", 50)}
	hdr := LocationConfig{Path: "/api/", Upstream: "app", Header: &HeaderMatch{Name: "X-V", Value: "2"}, RateLimit: mustRate(t, "5r/s", 1)}
	zp, _ := lz.zones(&cfg, &post, "")
	zg, _ := lz.zones(&cfg, &get, "")
	zh, _ := lz.zones(&cfg, &hdr, "")
	if zp == zg || zp == zh || zg == zh {
		t.Fatal("locations of one path with different methods or header share one rate-limit zone")
	}
	if again, _ := lz.zones(&cfg, &get, ""); again != zg {
		t.Error("the same location made a second zone")
	}
}
