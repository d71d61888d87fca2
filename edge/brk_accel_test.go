package edge_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/edge/limit"
)

// A redirect into an internal upstream location sends one Content-Type,
// the inner upstream's (as nginx, whose inner upstream's type replaces the
// one kept from the redirect): the kept headers were set and the inner
// response's added, so the client got two Content-Type (and two
// Content-Disposition) lines.
func TestBrkXAccelInternalUpstreamHeadersNotDoubled(t *testing.T) {
	addr, _ := accelEdge(t)
	resp, body := accelDo(t, addr, "GET", "/download/x?to="+escapeQuery("/inner/y")+"&type=application/pdf", "")
	if resp.StatusCode != http.StatusOK || body != "inner GET /inner/y" {
		t.Fatalf("to an internal upstream: %d %q", resp.StatusCode, body)
	}
	if ct := resp.Header.Values("Content-Type"); len(ct) != 1 || ct[0] != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q, want the inner upstream's one", ct)
	}
	if cd := resp.Header.Values("Content-Disposition"); len(cd) != 1 {
		t.Errorf("Content-Disposition %q, want one", cd)
	}
	if c := resp.Header.Values("Set-Cookie"); len(c) != 1 || c[0] != "seen=1" {
		t.Errorf("Set-Cookie %q, want the app's kept", c)
	}
}

// An internal location's own limit applies to a redirected request that
// its first location did not count, as in nginx (whose limit_req and
// limit_conn are skipped only when the request already passed one): the
// classic "limit_conn on the internal download location" set-up was
// silently ignored, every download passing.
func TestBrkXAccelInternalLocationLimitApplies(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "report.pdf"), []byte("%PDF"), 0o644); err != nil {
		t.Fatal(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Accel-Redirect", "/protected/report.pdf")
	})
	cfg := proxyConfig("unix:" + startApp(t, app))
	perMinute, _ := limit.ParseRate("1r/m")
	cfg.Locations = append(cfg.Locations,
		edge.LocationConfig{Path: "/protected/", Root: dir, Internal: true, RateLimit: &limit.RateConfig{Rate: perMinute}},
		edge.LocationConfig{Path: "/counted/", Upstream: "app", RateLimit: &limit.RateConfig{Rate: perMinute, Burst: 10}})
	_, addr := limitsEdge(t, cfg, nil)
	// Counted by /counted/'s own zone, not again by /protected/'s.
	for i := range 3 {
		if resp, body := accelDo(t, addr, "GET", "/counted/x", ""); resp.StatusCode != 200 || body != "%PDF" {
			t.Fatalf("download %d through a counted location: %d %q", i, resp.StatusCode, body)
		}
	}
	// Counted by nothing before the internal location's 1r/m.
	if resp, body := accelDo(t, addr, "GET", "/x", ""); resp.StatusCode != 200 || body != "%PDF" {
		t.Fatalf("first download: %d %q", resp.StatusCode, body)
	}
	if resp, _ := accelDo(t, addr, "GET", "/y", ""); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("second download within the internal location's 1r/m: %d, want 429", resp.StatusCode)
	}
}
