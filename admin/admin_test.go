package admin

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var quiet = slog.New(slog.DiscardHandler)

func call(t *testing.T, h http.Handler, method, path string) (int, string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
	b, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(b)
}

func TestEndpoints(t *testing.T) {
	ready := errors.New("appserver: workers not all ready")
	reloadErr := errors.New("the configuration is not valid; the running one stays: stack.yaml: line 3: bad")
	src := Sources{
		Tiers: func() []Tier {
			return []Tier{{Name: "edge", Addrs: []string{"http://127.0.0.1:8000/"}, State: "serving"}}
		},
		Workers: func() []Worker { return []Worker{{ID: 1, PID: 4242, State: "busy", Current: "GET /slow<script>"}} },
		Ready:   func() error { return ready },
		Config:  func() ([]byte, error) { return []byte("apps: {polls: {secret_key: '********'}}\n"), nil },
		Reload:  func() error { return reloadErr },
	}
	s := New(Config{}, src, nil, quiet)
	tcp, ctl := s.handler(false), s.handler(true)

	for _, c := range []struct {
		h            http.Handler
		method, path string
		code         int
		body         string
	}{
		{tcp, "GET", "/healthz", 200, "ok"},
		{tcp, "GET", "/readyz", 503, "workers not all ready"},
		{tcp, "GET", "/config", 200, "********"},
		{tcp, "POST", "/reload", 403, "control socket"},
		{tcp, "POST", "/workers/add", 403, "control socket"},
		{ctl, "POST", "/reload", 409, "line 3: bad"},
		{ctl, "POST", "/workers/add", 501, "no worker processes"},
		{tcp, "GET", "/metrics", 200, "go_goroutines"},
		{tcp, "GET", "/metrics", 200, "process_cpu_seconds_total"},
		{tcp, "GET", "/status.json", 200, `"pid": 4242`},
		{tcp, "GET", "/status", 200, `<tr data-pid="4242">`},
		{tcp, "GET", "/status", 200, `GET /slow&lt;script&gt;`},
		{tcp, "GET", "/assets/status.js", 200, "status.json"},
		{tcp, "GET", "/", 302, ""},
	} {
		code, body := call(t, c.h, c.method, c.path)
		if code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("%s %s: %d %.200q, want %d containing %q", c.method, c.path, code, body, c.code, c.body)
		}
	}

	ready = nil
	if code, _ := call(t, tcp, "GET", "/readyz"); code != 200 {
		t.Errorf("/readyz once ready: %d", code)
	}
	s.Stopping()
	if code, body := call(t, tcp, "GET", "/readyz"); code != 503 || !strings.Contains(body, "stopping") {
		t.Errorf("/readyz while stopping: %d %q", code, body)
	}
	if code, _ := call(t, ctl, "POST", "/reload"); code != 503 {
		t.Errorf("reload while stopping: %d", code)
	}
	if code, _ := call(t, tcp, "GET", "/healthz"); code != 200 {
		t.Errorf("/healthz while stopping: %d", code)
	}
}

func TestErrorLogKeepsTheLatestWarnings(t *testing.T) {
	l := NewErrorLog()
	var out strings.Builder
	logger := slog.New(l.Handler(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelError}))).With("tier", "edge")
	logger.Info("not kept")
	for i := range errorLogSize + 5 {
		logger.Warn("warned", "i", i)
	}
	logger.Error("failed", "err", "boom")
	got := l.Entries()
	if len(got) != errorLogSize {
		t.Fatalf("%d entries, want %d", len(got), errorLogSize)
	}
	last := got[len(got)-1]
	if last.Message != "failed" || last.Level != "ERROR" || last.Attrs != "tier=edge err=boom" {
		t.Errorf("last entry %+v", last)
	}
	if got[0].Attrs != "tier=edge i=6" {
		t.Errorf("oldest kept %+v, want i=6", got[0])
	}
	// The next handler keeps its own level: the warnings are not printed.
	if strings.Contains(out.String(), "warned") || !strings.Contains(out.String(), "failed") {
		t.Errorf("passed on: %q", out.String())
	}
}

func TestQuantileInterpolatesWithinBuckets(t *testing.T) {
	bounds := []float64{0.001, 0.01, 0.1, 1}
	cum := []uint64{50, 90, 99, 100}
	for _, c := range []struct{ q, want float64 }{
		{0.5, 0.001}, {0.7, 0.0055}, {0.9, 0.01}, {0.99, 0.1}, {1, 1},
	} {
		if got := quantile(c.q, bounds, cum, 100); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
}

func TestHistoryRatesFromTheRegistry(t *testing.T) {
	s := New(Config{}, Sources{}, nil, quiet)
	h := newTestHistogram(s)
	t0 := time.Now()
	s.history.sample(t0)
	for range 30 {
		h.Observe(0.002)
	}
	s.history.sample(t0.Add(time.Second))
	p := s.history.points()
	if len(p) != 1 || p[0].Rate != 30 || p[0].P50 <= 0.001 || p[0].P50 > 0.0025 {
		t.Fatalf("points %+v", p)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Listen: "127.0.0.1:8001", Socket: "run/admin.sock"}, ""},
		{Config{}, ""},
		{Config{Listen: "8001"}, `admin.listen: "8001" is not host:port`},
		{Config{Listen: "unix:run/a.sock"}, "admin.socket"},
		{Config{Listen: "127.0.0.1:http"}, "port must be a number"},
		{Config{Socket: strings.Repeat("a", 120)}, "at most 107"},
		{Config{AllowedHosts: []string{"metrics.internal", ".example.com", "*", "10.0.0.5"}}, ""},
		{Config{AllowedHosts: []string{"ok.test", "a.test:8001"}}, `admin.allowed_hosts[1]: "a.test:8001" is not a host name`},
		{Config{AllowedHosts: []string{"*.example.com"}}, `admin.allowed_hosts[0]`},
		{Config{AllowedHosts: []string{""}}, `admin.allowed_hosts[0]`},
		{Config{AllowedHosts: []string{".."}}, `admin.allowed_hosts[0]: ".." is not a host name`},
		{Config{AllowedHosts: []string{"ok.test", "a..b"}}, `admin.allowed_hosts[1]`},
		{Config{AllowedHosts: []string{"münchen.example"}}, `admin.allowed_hosts[0]`},
		{Config{AllowedHosts: []string{"a.", "."}}, `admin.allowed_hosts[0]`},
		{Config{AllowedHosts: []string{"Metrics_1.internal", "xn--mnchen-3ya.example"}}, ""},
	} {
		err := c.cfg.Validate()
		if (c.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
}

// Listen opens both listeners (the socket 0600), Serve serves them, and
// Shutdown closes them and removes the socket, also when it comes before
// Serve ran.
func TestServerLifecycle(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "run", "admin.sock")
	s := New(Config{Listen: "127.0.0.1:0", Socket: sock}, Sources{}, nil, quiet)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket: %v %v", fi, err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	resp, err := http.Get("http://" + s.Addr().String() + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	// A second stack on the same socket is refused, naming the key.
	if err := New(Config{Socket: sock}, Sources{}, nil, quiet).Listen(); err == nil || !strings.Contains(err.Error(), "admin.socket") {
		t.Errorf("second Listen: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sock); err == nil {
		t.Error("socket left after Shutdown")
	}

	early := New(Config{Listen: "127.0.0.1:0", Socket: sock}, Sources{}, nil, quiet)
	if err := early.Listen(); err != nil {
		t.Fatal(err)
	}
	early.Shutdown(ctx)
	if err := early.Serve(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sock); err == nil {
		t.Error("socket left after a Shutdown before Serve")
	}
}
