package edge_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stack-web/stack/appserver"
)

// With edge.compression on, the JSON access log still names the upstream
// server and its time. Before the fix the proxy looked for the edge's
// writer with a plain type assertion, which the compression wrapper (on
// every location once gzip or zstd is on) hid, so every proxied line had
// "upstream":"" and "upstream_time":null, compressed or not.
func TestJSONAccessLogNamesUpstreamWithCompression(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "app.sock")
	l, err := appserver.Listen("unix:"+sock, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	s := &appserver.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			for range 100 {
				w.Write([]byte("a compressible line of text\n"))
			}
		}),
		Logger: slog.New(slog.DiscardHandler),
	}
	var wg sync.WaitGroup
	wg.Go(func() { s.Serve(l) })
	t.Cleanup(func() { s.Close(); wg.Wait() })

	logPath := filepath.Join(t.TempDir(), "access.log")
	cfg := proxyConfig("unix:" + sock)
	cfg.AccessLog, cfg.AccessLogFormat = logPath, "json"
	cfg.Compression.Gzip, cfg.Compression.Zstd = true, true
	base := startEdge(t, cfg)

	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	for _, ae := range []string{"gzip", ""} {
		req, _ := http.NewRequest("GET", base+"/page", nil)
		req.Header.Set("Accept-Encoding", ae)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Content-Encoding"); got != ae {
			t.Fatalf("Accept-Encoding %q: Content-Encoding %q", ae, got)
		}
	}
	lines := waitLines(t, logPath, 2)
	for i, line := range lines {
		var a accessLine
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("line %d does not parse: %v\n%s", i, err, line)
		}
		if a.Upstream != "unix:"+sock || a.UpstreamTime == nil {
			t.Errorf("line %d: upstream %q, upstream_time %v; want the server and its time:\n%s", i, a.Upstream, a.UpstreamTime, line)
		}
	}
}
