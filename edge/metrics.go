package edge

import (
	"net"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stack-web/stack/edge/internal/limitzone"
	"github.com/stack-web/stack/edge/internal/locmetrics"
	"github.com/stack-web/stack/edge/internal/tlsfront"
	"github.com/stack-web/stack/edge/upstream"
)

// The edge's Prometheus metrics. Instrument registers them; without it
// the edge counts nothing (a nil *metrics costs one comparison per
// request). Every labelled child a request can touch is resolved when the
// state is built (attach), so the request path does no label lookup, no
// map access and no allocation (edge/internal/locmetrics).

// metrics is the edge's set of collectors.
type metrics struct {
	requests  *locmetrics.Set        // by location (edge/internal/locmetrics)
	upErrors  *prometheus.CounterVec // upstream, kind
	retries   *prometheus.CounterVec // upstream
	limited   *prometheus.CounterVec // location, limit (limits.go)
	tls       *prometheus.CounterVec // result (tls_accept.go)
	unmatched *locmetrics.Location   // refused before a location, or no location matched
}

// Instrument registers the edge's metrics with reg. Call it before
// Serve, once.
func (e *Edge) Instrument(reg prometheus.Registerer) error {
	m := &metrics{
		requests: locmetrics.NewSet(),
		upErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stack_edge_upstream_errors_total",
			Help: "Proxied requests that failed, by upstream and kind (connect, timeout, busy, reset, invalid, header_too_large)."},
			[]string{"upstream", "kind"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stack_edge_upstream_retries_total",
			Help: "Attempts after a request's first, to the next server or the same one again, by upstream."}, []string{"upstream"}),
		limited: limitzone.NewRefusedVec(),
		tls:     tlsfront.NewHandshakesVec(),
	}
	for _, c := range []prometheus.Collector{m.requests, m.upErrors, m.retries, m.limited, m.tls, &edgeCollector{e}} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	m.unmatched = m.requests.Location("none")
	if e.guard != nil {
		e.guard.SetRefused(m.unmatched)
	}
	e.metrics = m
	m.attach(e.cur.Load())
	return nil
}

// attach resolves st's children, before st serves a request.
func (m *metrics) attach(st *state) {
	st.eachLocation(func(loc *location) {
		loc.metrics = m.requests.Location(loc.label)
		m.attachLimits(loc)
		if p, ok := innermost(loc.handler).(*Proxy); ok {
			p.errors = m.upErrors.MustCurryWith(prometheus.Labels{"upstream": p.upstream.Name})
		}
	})
	for name, u := range st.upstreams {
		u.SetRetryCounter(m.retries.WithLabelValues(name))
	}
}

// connState counts the open client connections (every generation's).
func (e *Edge) connState(_ net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		e.open.Add(1)
	case http.StateClosed, http.StateHijacked:
		e.open.Add(-1)
	}
}

// openConns is the edge's count of open client connections.
type openConns = atomic.Int64

// Accepting reports whether the edge serves: Serve has started and
// Shutdown has not.
func (e *Edge) Accepting() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.serving && !e.stopped
}

// OpenConnections is the number of client connections open now.
func (e *Edge) OpenConnections() int64 { return e.open.Load() }

// UpstreamStatus is one upstream of the current configuration.
type UpstreamStatus struct {
	Name     string                  `json:"name"`
	Protocol string                  `json:"protocol"`
	Servers  []upstream.ServerStatus `json:"servers"`
}

// Upstreams returns the current configuration's upstreams, by name, with
// their servers' health.
func (e *Edge) Upstreams() []UpstreamStatus {
	st := e.acquire()
	defer st.release()
	out := make([]UpstreamStatus, 0, len(st.upstreams))
	for _, name := range sortedKeys(st.cfg.Upstreams) {
		if u := st.upstreams[name]; u != nil {
			out = append(out, UpstreamStatus{Name: name, Protocol: u.Protocol(), Servers: u.Servers()})
		}
	}
	return out
}

var (
	descOpenConns = prometheus.NewDesc("stack_edge_open_connections", "Client connections open now.", nil, nil)
	descServerUp  = prometheus.NewDesc("stack_edge_upstream_server_up",
		"1 while the upstream server is in rotation, 0 while marked down after max_fails.", []string{"upstream", "server"}, nil)
)

// edgeCollector reads the gauges at scrape time.
type edgeCollector struct{ e *Edge }

func (c *edgeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descOpenConns
	ch <- descServerUp
}

func (c *edgeCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descOpenConns, prometheus.GaugeValue, float64(c.e.OpenConnections()))
	for _, u := range c.e.Upstreams() {
		for _, s := range u.Servers {
			up := 0.0
			if s.Up {
				up = 1
			}
			ch <- prometheus.MustNewConstMetric(descServerUp, prometheus.GaugeValue, up, u.Name, s.Address)
		}
	}
}
