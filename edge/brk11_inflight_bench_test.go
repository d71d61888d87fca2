package edge_test

import (
	"fmt"
	"testing"
)

// BenchmarkProxyUwsgiInFlight is BenchmarkProxyUwsgi with max_in_flight
// off and on, buffering on (the default): with the cap, a small response
// that has all arrived should still go out in one write, without a copy
// (the transport body's Whole, Buffered and ReleaseHead through the
// slot's wrapper).
func BenchmarkProxyUwsgiInFlight(b *testing.B) {
	for _, n := range []int{0, 16} {
		b.Run(fmt.Sprintf("cap=%d", n), func(b *testing.B) {
			sock := startAppB(b)
			cfg := proxyConfig("unix:" + sock)
			up := cfg.Upstreams["app"]
			up.MaxInFlight = n
			cfg.Upstreams["app"] = up
			benchEdgeHello(b, cfg)
		})
	}
}
