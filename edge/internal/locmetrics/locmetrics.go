// Package locmetrics is the edge's per-location request metrics: requests
// by method and status class, their duration, and the body bytes each way.
// A request costs a few atomic adds and one histogram observation: a
// location's children are resolved once (Set.Location), so the request
// path does no label lookup, no map access and no allocation. It stands
// alone because it counts what a request's end tells it and knows nothing
// of the edge.
package locmetrics

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Set is the request metrics' collectors.
type Set struct {
	requests *prometheus.CounterVec   // location, method, class
	duration *prometheus.HistogramVec // location
	sent     *prometheus.CounterVec   // location
	received *prometheus.CounterVec   // location
}

// NewSet makes the collectors, unregistered.
func NewSet() *Set {
	return &Set{
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
	}
}

// Describe and Collect make a Set one prometheus.Collector.
func (s *Set) Describe(ch chan<- *prometheus.Desc) {
	s.requests.Describe(ch)
	s.duration.Describe(ch)
	s.sent.Describe(ch)
	s.received.Describe(ch)
}

func (s *Set) Collect(ch chan<- prometheus.Metric) {
	s.requests.Collect(ch)
	s.duration.Collect(ch)
	s.sent.Collect(ch)
	s.received.Collect(ch)
}

// methods are the methods counted by name; the rest count as "other".
var methods = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other"}

// classes are the status classes; index status/100, 0 for anything else.
var classes = [...]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

// Location is one location's resolved children. A method and
// class's counter is made at its first request (so the exposition lists
// only the combinations seen), then read with one atomic load.
type Location struct {
	path     string
	vec      *prometheus.CounterVec
	requests [len(methods)][len(classes)]atomic.Pointer[prometheus.Counter]
	duration prometheus.Observer
	sent     prometheus.Counter
	received prometheus.Counter
}

// counter returns the requests counter of method i and class j.
func (lm *Location) counter(i, j int) prometheus.Counter {
	if c := lm.requests[i][j].Load(); c != nil {
		return *c
	}
	c := lm.vec.WithLabelValues(lm.path, methods[i], classes[j]) // the same child for every caller
	lm.requests[i][j].Store(&c)
	return c
}

// Location resolves the children of the location labelled path.
func (s *Set) Location(path string) *Location {
	return &Location{
		path:     path,
		vec:      s.requests,
		duration: s.duration.WithLabelValues(path),
		sent:     s.sent.WithLabelValues(path),
		received: s.received.WithLabelValues(path),
	}
}

// Observe counts one request, answered with status (0: none was sent) and
// bytes of body, that started at start.
func (lm *Location) Observe(r *http.Request, status int, bytes int64, start time.Time) {
	if status == 0 {
		status = 499 // as the access log: the client left first
		if r.Context().Err() == nil {
			status = http.StatusOK
		}
	}
	lm.counter(methodIndex(r.Method), statusClass(status)).Inc()
	lm.duration.Observe(time.Since(start).Seconds())
	if bytes > 0 {
		lm.sent.Add(float64(bytes))
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

// Count counts a request the server refused before any handler ran (the
// method as its request line gave it).
func (lm *Location) Count(method string, status int) {
	lm.counter(methodIndex(method), statusClass(status)).Inc()
}
