package edge_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stack-web/stack/edge"
)

// metricsEdge is an edge with a static location /static/ (one small
// file) and a proxied / to a socket nobody listens on, instrumented with
// reg when reg is not nil.
func metricsEdge(t testing.TB, reg *prometheus.Registry) *edge.Edge {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "a.txt"), []byte(strings.Repeat("x", 512)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := proxyConfig("unix:" + filepath.Join(t.TempDir(), "nobody.sock"))
	cfg.Locations = append(cfg.Locations, edge.LocationConfig{Path: "/static/", Root: root})
	cfg.Listen = []string{"127.0.0.1:0"}
	e, err := edge.New(cfg, t.TempDir(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if reg != nil {
		if err := e.Instrument(reg); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func TestEdgeMetricsCountRequestsByLocationMethodAndClass(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := metricsEdge(t, reg)
	do := func(method, target string) int {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(method, target, nil))
		return w.Code
	}
	for range 3 {
		if c := do("GET", "/static/a.txt"); c != 200 {
			t.Fatalf("static: %d", c)
		}
	}
	do("HEAD", "/static/a.txt")
	do("GET", "/static/missing")
	if c := do("GET", "/app"); c != http.StatusBadGateway {
		t.Fatalf("proxy to nobody: %d", c)
	}
	do("GET", "/../x") // refused before a location

	for _, c := range []struct {
		loc, method, code string
		want              float64
	}{
		{"/static/", "GET", "2xx", 3}, {"/static/", "HEAD", "2xx", 1}, {"/static/", "GET", "4xx", 1},
		{"/", "GET", "5xx", 1}, {"none", "GET", "4xx", 1},
	} {
		got := metricValue(t, reg, "stack_edge_requests_total", map[string]string{"location": c.loc, "method": c.method, "code": c.code})
		if got != c.want {
			t.Errorf("stack_edge_requests_total{location=%q,method=%q,code=%q} = %v, want %v", c.loc, c.method, c.code, got, c.want)
		}
	}
	if got := metricValue(t, reg, "stack_edge_upstream_errors_total", map[string]string{"upstream": "app", "kind": "connect"}); got != 1 {
		t.Errorf("stack_edge_upstream_errors_total{upstream=app,kind=connect} = %v, want 1", got)
	}
	if got := metricValue(t, reg, "stack_edge_upstream_server_up", map[string]string{"upstream": "app"}); got != 1 {
		t.Errorf("stack_edge_upstream_server_up{upstream=app} = %v, want 1 (a lone server is never marked down)", got)
	}
	if got := metricValue(t, reg, "stack_edge_response_bytes_total", map[string]string{"location": "/static/"}); got < 3*512 || got > 3*512+200 {
		t.Errorf("stack_edge_response_bytes_total{location=/static/} = %v, want 3×512 and a 404 page", got)
	}
}

// metricValue sums the samples of the family name whose labels include
// want (a histogram's count).
func metricValue(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	metric:
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue metric
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

// BenchmarkEdgeStaticMetrics is the edge's whole request path for a
// small static file, without and with metrics: the difference is what
// instrumenting costs per request.
func BenchmarkEdgeStaticMetrics(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run("metrics="+name, func(b *testing.B) {
			var reg *prometheus.Registry
			if on {
				reg = prometheus.NewRegistry()
			}
			e := metricsEdge(b, reg)
			req := httptest.NewRequest("GET", "/static/a.txt", nil)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				e.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatal(w.Code)
				}
			}
		})
	}
}

// A head net/http refuses itself (malformed, or far over max_header_size)
// is counted too, under location "none": the metrics must add up to what
// clients saw, and they saw a 400 or a 431 (found by running the binary:
// 400s from a hostile client were in the access log but not in /metrics).
func TestEdgeMetricsCountHeadsNetHTTPRefused(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := edge.DefaultConfig()
	cfg.Locations = []edge.LocationConfig{{Path: "/", Root: t.TempDir()}}
	cfg.Listen = []string{"127.0.0.1:0"}
	e, err := edge.New(cfg, t.TempDir(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Instrument(reg); err != nil {
		t.Fatal(err)
	}
	if err := e.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Shutdown(ctx)
		<-done
	})
	base := "http://" + e.Addrs()[0].String()
	for _, raw := range []string{
		"GET /bad HTTP/1.1\r\nHost: a\r\nNo colon here\r\n\r\n",
		"G\"ET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("h", 200<<10) + "\r\n\r\n",
	} {
		got, _ := rawExchange(t, base, raw, 5*time.Second)
		if !strings.HasPrefix(got, "HTTP/1.1 4") {
			t.Fatalf("got %.40q, want a 4xx from net/http", got)
		}
	}
	for _, c := range []struct {
		method string
		want   float64
	}{{"GET", 1}, {"other", 1}, {"POST", 1}} {
		labels := map[string]string{"location": "none", "method": c.method, "code": "4xx"}
		if got := metricValue(t, reg, "stack_edge_requests_total", labels); got != c.want {
			t.Errorf("stack_edge_requests_total%v = %v, want %v", labels, got, c.want)
		}
	}
}
