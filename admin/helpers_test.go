package admin

import "github.com/prometheus/client_golang/prometheus"

// newTestHistogram registers the edge's duration histogram's name with
// s's registry, as edge.Instrument would.
func newTestHistogram(s *Server) prometheus.Observer {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "stack_edge_request_duration_seconds", Help: "test",
		Buckets: []float64{.001, .0025, .005}}, []string{"location"})
	s.Registerer().MustRegister(h)
	return h.WithLabelValues("/")
}
