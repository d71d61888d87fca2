package edge

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkMetricsObserve is what metrics add to one request: the
// counter, the histogram and the byte counters of its location.
func BenchmarkMetricsObserve(b *testing.B) {
	e := &Edge{}
	st := &state{sites: []*site{{locations: []location{{prefix: "/", label: "/"}}}}}
	e.cur.Store(st)
	if err := e.Instrument(prometheus.NewRegistry()); err != nil {
		b.Fatal(err)
	}
	lm := st.sites[0].locations[0].metrics
	w := &clientWriter{status: 200, bytes: 1234}
	r := httptest.NewRequest("GET", "/", nil)
	start := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		lm.Observe(r, w.status, w.bytes, start)
	}
}
