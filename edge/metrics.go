package edge

import (
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stack-web/stack/edge/internal/limitzone"
	"github.com/stack-web/stack/edge/internal/tlsfront"
	"github.com/stack-web/stack/edge/upstream"
)

// The edge's Prometheus metrics. Instrument registers them; without it
// the edge counts nothing (a nil *metrics costs one comparison per
// request). A request costs a few atomic adds and one histogram
// observation: every labelled child a request can touch is resolved when
// the state is built (attach), so the request path does no label lookup,
// no map access and no allocation.

// metrics is the edge's set of collectors.
type metrics struct {
	requests  *prometheus.CounterVec   // location, method, class
	duration  *prometheus.HistogramVec // location
	sent      *prometheus.CounterVec   // location
	received  *prometheus.CounterVec   // location
	upErrors  *prometheus.CounterVec   // upstream, kind
	retries   *prometheus.CounterVec   // upstream
	limited   *prometheus.CounterVec   // location, limit (limits.go)
	tls       *prometheus.CounterVec   // result (tls_accept.go)
	unmatched *locationMetrics         // refused before a location, or no location matched
}

// methods are the methods counted by name; the rest count as "other".
var methods = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other"}

// classes are the status classes; index status/100, 0 for anything else.
var classes = [...]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

// locationMetrics are one location's resolved children. A method and
// class's counter is made at its first request (so the exposition lists
// only the combinations seen), then read with one atomic load.
type locationMetrics struct {
	path     string
	vec      *prometheus.CounterVec
	requests [len(methods)][len(classes)]atomic.Pointer[prometheus.Counter]
	duration prometheus.Observer
	sent     prometheus.Counter
	received prometheus.Counter
}

// counter returns the requests counter of method i and class j.
func (lm *locationMetrics) counter(i, j int) prometheus.Counter {
	if c := lm.requests[i][j].Load(); c != nil {
		return *c
	}
	c := lm.vec.WithLabelValues(lm.path, methods[i], classes[j]) // the same child for every caller
	lm.requests[i][j].Store(&c)
	return c
}

// Instrument registers the edge's metrics with reg. Call it before
// Serve, once.
func (e *Edge) Instrument(reg prometheus.Registerer) error {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stack_edge_requests_total",
			Help: "Requests answered by the edge, by location (its path, after its server's first name under edge.servers; \"none\" when refused before one matched), method and status class."},
			[]string{"location", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "stack_edge_request_duration_seconds",
			Help:    "Time from the request's head to the end of its answer, by location.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}},
			[]string{"location"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stack_edge_response_bytes_total",
			Help: "Response body bytes sent to clients, by location."}, []string{"location"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stack_edge_request_bytes_total",
			Help: "Request body bytes announced by clients (Content-Length), by location."}, []string{"location"}),
		upErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stack_edge_upstream_errors_total",
			Help: "Proxied requests that failed, by upstream and kind (connect, timeout, busy, reset, invalid, header_too_large)."},
			[]string{"upstream", "kind"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stack_edge_upstream_retries_total",
			Help: "Attempts after a request's first, to the next server or the same one again, by upstream."}, []string{"upstream"}),
		limited: limitzone.NewRefusedVec(),
		tls:     tlsfront.NewHandshakesVec(),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.sent, m.received, m.upErrors, m.retries, m.limited, m.tls, &edgeCollector{e}} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	m.unmatched = m.location("none")
	if e.guard != nil {
		e.guard.refused.Store(m.unmatched)
	}
	e.metrics = m
	m.attach(e.cur.Load())
	return nil
}

func (m *metrics) location(path string) *locationMetrics {
	return &locationMetrics{
		path:     path,
		vec:      m.requests,
		duration: m.duration.WithLabelValues(path),
		sent:     m.sent.WithLabelValues(path),
		received: m.received.WithLabelValues(path),
	}
}

// attach resolves st's children, before st serves a request.
func (m *metrics) attach(st *state) {
	st.eachLocation(func(loc *location) {
		loc.metrics = m.location(loc.label)
		m.attachLimits(loc)
		if p, ok := innermost(loc.handler).(*Proxy); ok {
			p.errors = m.upErrors.MustCurryWith(prometheus.Labels{"upstream": p.upstream.Name})
		}
	})
	for name, u := range st.upstreams {
		u.SetRetryCounter(m.retries.WithLabelValues(name))
	}
}

// observe counts one answered request.
func (lm *locationMetrics) observe(w *clientWriter, r *http.Request, start time.Time) {
	status := w.status
	if status == 0 {
		status = 499 // as the access log: the client left first
		if r.Context().Err() == nil {
			status = http.StatusOK
		}
	}
	lm.counter(methodIndex(r.Method), statusClass(status)).Inc()
	lm.duration.Observe(time.Since(start).Seconds())
	if w.bytes > 0 {
		lm.sent.Add(float64(w.bytes))
	}
	if r.ContentLength > 0 {
		lm.received.Add(float64(r.ContentLength))
	}
}

// statusClass is the index in classes of status's class.
func statusClass(status int) int {
	if class := status / 100; class >= 1 && class <= 5 {
		return class
	}
	return 0
}

func methodIndex(m string) int {
	switch m {
	case "GET":
		return 0
	case "HEAD":
		return 1
	case "POST":
		return 2
	case "PUT":
		return 3
	case "DELETE":
		return 4
	case "PATCH":
		return 5
	case "OPTIONS":
		return 6
	}
	return 7
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
