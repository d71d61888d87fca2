package limitzone

import (
	"testing"

	"github.com/stack-web/stack/edge/limit"
)

// A location's own zone is made from its own settings, one per scope; a
// location without its own shares the edge-wide zone.
func TestZoneHasItsLocationsSettings(t *testing.T) {
	var lz Zones
	get, hdr := mustRate(t, "1000r/s", 50), mustRate(t, "5r/s", 1)
	edge := mustRate(t, "10r/s", 7)
	zg, _ := lz.Get(edge, get, nil, nil, " /api/ GET", "")
	zh, _ := lz.Get(edge, hdr, nil, nil, " /api/  X-V=2", "")
	if zg == zh || zg.id.burst != 50 || zh.id.burst != 1 {
		t.Errorf("zones' bursts %d, %d; want each location's own (50, 1)", zg.id.burst, zh.id.burst)
	}
	z1, _ := lz.Get(edge, nil, nil, nil, " /a/ ", "")
	z2, _ := lz.Get(edge, nil, nil, nil, " /b/ ", "")
	if z1 != z2 || z1.id.burst != 7 {
		t.Errorf("locations without their own rate_limit: zones %p, %p (burst %d); want the one edge-wide zone (burst 7)", z1, z2, z1.id.burst)
	}
}

func mustRate(t *testing.T, s string, burst int) *limit.RateConfig {
	r, err := limit.ParseRate(s)
	if err != nil {
		t.Fatal(err)
	}
	return &limit.RateConfig{Rate: r, Burst: burst}
}
