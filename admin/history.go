package admin

import (
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// history keeps the last minute of the edge's traffic for the status
// page's charts, one point a second, computed from the registry itself:
// the difference between two gatherings of stack_edge_request_duration_seconds
// gives the second's request count and its latency buckets, from which
// the percentiles are interpolated as Prometheus's histogram_quantile does.
type history struct {
	g      prometheus.Gatherer
	mu     sync.Mutex
	pts    []Point // oldest first, at most historyLen
	prev   snapshot
	primed bool
}

const historyLen = 60

// Point is one second of traffic through the edge.
type Point struct {
	T      int64   `json:"t"`      // Unix seconds
	Rate   float64 `json:"rate"`   // requests per second
	Errors float64 `json:"errors"` // 5xx answers per second
	P50    float64 `json:"p50"`    // seconds
	P90    float64 `json:"p90"`
	P99    float64 `json:"p99"`
}

type snapshot struct {
	at      time.Time
	count   uint64
	errors  float64
	bounds  []float64
	buckets []uint64 // cumulative
}

func newHistory(g prometheus.Gatherer) *history { return &history{g: g} }

func (h *history) run(quit <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	h.sample(time.Now())
	for {
		select {
		case <-quit:
			return
		case now := <-t.C:
			h.sample(now)
		}
	}
}

func (h *history) sample(now time.Time) {
	fams, _ := h.g.Gather()
	cur := snapshot{at: now}
	for _, f := range fams {
		switch f.GetName() {
		case "stack_edge_request_duration_seconds":
			for _, m := range f.GetMetric() {
				hg := m.GetHistogram()
				cur.count += hg.GetSampleCount()
				bs := hg.GetBucket()
				if cur.bounds == nil {
					cur.bounds = make([]float64, len(bs))
					cur.buckets = make([]uint64, len(bs))
					for i, b := range bs {
						cur.bounds[i] = b.GetUpperBound()
					}
				}
				for i, b := range bs {
					if i < len(cur.buckets) {
						cur.buckets[i] += b.GetCumulativeCount()
					}
				}
			}
		case "stack_edge_requests_total":
			for _, m := range f.GetMetric() {
				if label(m, "code") == "5xx" {
					cur.errors += m.GetCounter().GetValue()
				}
			}
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.primed {
		secs := now.Sub(h.prev.at).Seconds()
		if secs <= 0 {
			secs = 1
		}
		p := Point{T: now.Unix()}
		if cur.count >= h.prev.count {
			n := cur.count - h.prev.count
			p.Rate = float64(n) / secs
			p.Errors = math.Max(0, cur.errors-h.prev.errors) / secs
			if n > 0 {
				delta := make([]uint64, len(cur.buckets))
				for i := range delta {
					delta[i] = cur.buckets[i]
					if i < len(h.prev.buckets) {
						delta[i] -= h.prev.buckets[i]
					}
				}
				p.P50 = quantile(0.5, cur.bounds, delta, n)
				p.P90 = quantile(0.9, cur.bounds, delta, n)
				p.P99 = quantile(0.99, cur.bounds, delta, n)
			}
		}
		h.pts = append(h.pts, p)
		if len(h.pts) > historyLen {
			h.pts = h.pts[len(h.pts)-historyLen:]
		}
	}
	h.prev, h.primed = cur, true
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// quantile interpolates q within cumulative buckets holding n
// observations; past the last bound it answers the last bound.
func quantile(q float64, bounds []float64, cum []uint64, n uint64) float64 {
	rank := q * float64(n)
	lower, below := 0.0, uint64(0)
	for i, c := range cum {
		if float64(c) >= rank {
			in := c - below
			if in == 0 {
				return bounds[i]
			}
			return lower + (bounds[i]-lower)*(rank-float64(below))/float64(in)
		}
		lower, below = bounds[i], c
	}
	if len(bounds) == 0 {
		return 0
	}
	return bounds[len(bounds)-1]
}

func (h *history) points() []Point {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Point{}, h.pts...)
}
