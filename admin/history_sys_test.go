package admin

import (
	"strings"
	"testing"
)

// The status page's history gathers once a second. It reads the tiers'
// metrics only: with the Go runtime and process collectors in the same
// gathering, an idle stack's master read /proc and allocated 100-190 kB a
// second for nothing. /metrics still serves both.
func TestHistoryGathersTheTiersOnly(t *testing.T) {
	s := New(Config{}, Sources{}, nil, quiet)
	newTestHistogram(s).Observe(0.01)
	hist, err := s.history.g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sawEdge bool
	for _, f := range hist {
		n := f.GetName()
		if strings.HasPrefix(n, "go_") || strings.HasPrefix(n, "process_") {
			t.Errorf("the history gathers %s", n)
		}
		sawEdge = sawEdge || n == "stack_edge_request_duration_seconds"
	}
	if !sawEdge {
		t.Errorf("the history does not gather the edge's request durations")
	}
	all, err := s.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"go_goroutines": false, "process_resident_memory_bytes": false, "stack_edge_request_duration_seconds": false}
	for _, f := range all {
		if _, ok := want[f.GetName()]; ok {
			want[f.GetName()] = true
		}
	}
	for n, ok := range want {
		if !ok {
			t.Errorf("/metrics lost %s", n)
		}
	}
	a := testing.AllocsPerRun(20, func() { s.history.sample(s.started) })
	t.Logf("a history sample: %.0f allocations", a)
	if a > 100 {
		t.Errorf("a history sample allocates %.0f times", a)
	}
}
