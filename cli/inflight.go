package cli

import (
	"maps"
	"path/filepath"
	"strings"

	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/edge"
)

// inFlightPerProcess is how many requests the edge keeps on the app
// server's connections per worker process; the rest wait in the edge, in
// arrival order (edge/upstream/inflight.go). Measured at wrk -c64 with 2
// workers (notes in the commit): 8 per process cut p99 at the same rate and
// CPU per request; 3 per process cut it more but lost rate.
const inFlightPerProcess = 8

// edgeConfig is f.Edge with the upstreams whose server is the stack's own
// app server (appserver.listen) capped to inFlightPerProcess requests in
// flight per worker process, and their wait bounded by its queue_timeout.
// Other upstreams (a real uWSGI, PHP-FPM, an HTTP server) are left as they
// are: their own listen queue does the waiting.
func edgeConfig(f *config.File) edge.Config {
	cfg := f.Edge
	procs := f.Appserver.Processes
	if procs <= 0 || f.Appserver.Listen == "" {
		return cfg
	}
	cfg.Upstreams = maps.Clone(cfg.Upstreams)
	for name, u := range cfg.Upstreams {
		if u.Protocol != "uwsgi" || !servesAppserver(u.Servers, f.Appserver.Listen) {
			continue
		}
		u.InFlight = inFlightPerProcess * procs
		u.QueueTimeout = f.Appserver.QueueTimeout
		cfg.Upstreams[name] = u
	}
	return cfg
}

// servesAppserver reports whether servers (upstream server lines,
// "ADDRESS [weight=N] [backup]") has exactly one address, and it is listen.
func servesAppserver(servers []string, listen string) bool {
	var addrs []string
	for _, item := range servers {
		for _, f := range strings.Fields(item) {
			if f != "backup" && !strings.HasPrefix(f, "weight=") {
				addrs = append(addrs, f)
			}
		}
	}
	if len(addrs) != 1 {
		return false
	}
	a, ua := strings.CutPrefix(addrs[0], "unix:")
	l, ul := strings.CutPrefix(listen, "unix:")
	if ua != ul {
		return false
	}
	if ua {
		return filepath.Clean(a) == filepath.Clean(l)
	}
	return a == l
}
