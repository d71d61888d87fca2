package cli

import (
	"strings"
	"testing"

	"github.com/stack-web/stack/config"
)

// How many edge processes run, and with several of them the edge's
// addresses, change only at a restart: a reload cannot add or remove a
// child, and each child would open a new address itself, all but the
// first finding it taken. With one edge process a new address reloads.
func TestReloadRefusesEdgeProcessesAndTheirAddresses(t *testing.T) {
	running := &config.File{}
	running.Edge.Processes = 2
	running.Edge.Listen = []string{"127.0.0.1:8000"}
	f := &config.File{}
	f.Edge = running.Edge
	f.Edge.Processes = 3
	if got := strings.Join(restartOnlyChanges(running, f), "; "); !strings.Contains(got, "edge.processes (2 → 3)") {
		t.Errorf("restartOnlyChanges = %q, want edge.processes named", got)
	}
	f.Edge.Processes = 2
	f.Edge.Listen = []string{"127.0.0.1:8000", "127.0.0.1:8001"}
	f.Edge.TLSListen = []string{"127.0.0.1:8443"}
	got := strings.Join(restartOnlyChanges(running, f), "; ")
	for _, key := range []string{"edge.listen", "edge.tls_listen"} {
		if !strings.Contains(got, key) {
			t.Errorf("restartOnlyChanges = %q, want %s named", got, key)
		}
	}
	// The same addresses in another order are no change.
	f.Edge.Listen, f.Edge.TLSListen = []string{"127.0.0.1:8001", "127.0.0.1:8000"}, nil
	running.Edge.Listen = []string{"127.0.0.1:8000", "127.0.0.1:8001"}
	if got := strings.Join(restartOnlyChanges(running, f), "; "); got != "" {
		t.Errorf("reordered addresses: restartOnlyChanges = %q", got)
	}
	f.Edge.Listen = []string{"127.0.0.1:8000", "127.0.0.1:8002"}
	running.Edge.Processes, f.Edge.Processes = 1, 1
	if got := strings.Join(restartOnlyChanges(running, f), "; "); got != "" {
		t.Errorf("one edge process: restartOnlyChanges = %q, want a new address reloaded", got)
	}
}

// Each of n edge processes gets its share of the CPUs; one keeps them all.
func TestEdgeChildEnv(t *testing.T) {
	t.Setenv("GOMAXPROCS", "")
	if env := edgeChildEnv(1); env != nil {
		t.Errorf("one process: %q", env)
	}
	if env := edgeChildEnv(2); len(env) != 1 || !strings.HasPrefix(env[0], "GOMAXPROCS=") {
		t.Errorf("two processes: %q", env)
	}
	t.Setenv("GOMAXPROCS", "3")
	if env := edgeChildEnv(2); env != nil {
		t.Errorf("with GOMAXPROCS set: %q, want it kept", env)
	}
}
