package edge_test

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/stack-web/stack/edge"
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
			e, err := edge.New(cfg, b.TempDir(), quiet)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			req := httptest.NewRequest("GET", "/hello", nil)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				e.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}
