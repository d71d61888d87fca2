package config

import (
	"strings"
	"testing"
)

// edge.processes runs from 1 to 64; more than one refuses the limits that
// each process would count alone, and `stack edge`, which runs one process.
func TestEdgeProcesses(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, scope string
		set         []string
		want        string // "" = valid
	}{
		{"default", "", nil, ""},
		{"two", "", []string{"edge.processes=2"}, ""},
		{"zero", "", []string{"edge.processes=0"}, "edge.processes: 0 is not from 1 to 64"},
		{"too many", "", []string{"edge.processes=65"}, "edge.processes: 65 is not from 1 to 64"},
		{"rate limit", "", []string{"edge.processes=2", "edge.rate_limit.rate=10r/s"},
			"edge.rate_limit: counted by each of edge.processes' 2 processes alone, a limit would let 2 times as much through"},
		{"limit_conn", "", []string{"edge.processes=3", "edge.limit_conn.max=5"}, "edge.limit_conn: counted by each of edge.processes' 3 processes alone"},
		{"one process with limits", "", []string{"edge.rate_limit.rate=10r/s", "edge.limit_conn.max=5"}, ""},
		{"stack edge", "edge", []string{"edge.processes=2"}, "edge.processes: 2: `stack edge` runs the edge in one process"},
		{"stack edge, one", "edge", []string{"edge.processes=1"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := append([]string{"run_dir=" + dir + "/run"}, tc.set...)
			f, msg := loadErr(t, Options{Scope: tc.scope, Set: set})
			if tc.want == "" {
				if msg != "" {
					t.Fatalf("refused: %s", msg)
				}
				if f.TiersInChildren() != (f.Edge.Processes > 1) {
					t.Errorf("TiersInChildren %v with edge.processes %d", f.TiersInChildren(), f.Edge.Processes)
				}
				return
			}
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("got %q, want it to say %q", msg, tc.want)
			}
		})
	}
}

// A location's limits are refused too, in a virtual host's as well.
func TestEdgeProcessesRefuseLocationLimits(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, `run_dir: `+dir+`/run
edge:
  processes: 2
  locations:
    - {path: /, upstream: app, rate_limit: {rate: 5r/s}}
  servers:
    - names: [example.com]
      locations:
        - {path: /, upstream: app, limit_conn: {max: 2}}
        - {path: /free/, upstream: app, rate_limit: off}
`)
	_, msg := loadErr(t, Options{Path: path})
	for _, want := range []string{"edge.locations[0].rate_limit: counted by each", "edge.servers[0].locations[0].limit_conn: counted by each"} {
		if !strings.Contains(msg, want) {
			t.Errorf("got %q, want it to say %q", msg, want)
		}
	}
	if strings.Contains(msg, "locations[1]") {
		t.Errorf("a location's rate_limit: off was refused: %q", msg)
	}
}
