package cli

import (
	"maps"
	"path/filepath"
	"strings"

	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/edge"
)

// edgeConfig is f.Edge with the wait of the upstream that reaches the
// stack's own app server (its one server is appserver.listen) bounded by
// the app server's queue_timeout, when the upstream caps its requests in
// flight (max_in_flight): a request held that long in the edge's queue
// gets the 503 the app server would give it after as long in its own.
// Other upstreams (a real uWSGI, PHP-FPM, an HTTP server) wait up to
// read_timeout, as nginx's requests wait in uWSGI's listen queue.
func edgeConfig(f *config.File) edge.Config {
	cfg := f.Edge
	if f.Appserver.QueueTimeout <= 0 || f.Appserver.Listen == "" {
		return cfg
	}
	cfg.Upstreams = maps.Clone(cfg.Upstreams)
	for name, u := range cfg.Upstreams {
		if u.MaxInFlight == 0 || u.Protocol != "uwsgi" || !servesAppserver(u.Servers, f.Appserver.Listen) {
			continue
		}
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
