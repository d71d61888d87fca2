package edge_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stack-web/stack/appserver"
	"github.com/stack-web/stack/edge"
)

// BenchmarkProxyUwsgi is one GET through the edge's handler to an app
// server on a Unix socket, without the client's TCP: what the edge adds
// per request (request id, access log) shows in its allocations.
func BenchmarkProxyUwsgi(b *testing.B) {
	for _, format := range []string{"off", "combined", "json"} {
		b.Run(format, func(b *testing.B) {
			sock := startAppB(b)
			cfg := proxyConfig("unix:" + sock)
			if format != "off" {
				cfg.AccessLog, cfg.AccessLogFormat = filepath.Join(b.TempDir(), "access.log"), format
			}
			benchEdgeHello(b, cfg)
		})
	}
}

// benchEdgeHello measures cfg's edge serving GET /hello in process (no
// client TCP), with its allocations.
func benchEdgeHello(b *testing.B, cfg edge.Config) {
	e, err := edge.New(cfg, b.TempDir(), quiet)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	req := httptest.NewRequest("GET", "/hello", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}

func startAppB(b *testing.B) string {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "Hello, web!\n") })
	sock := filepath.Join(b.TempDir(), "app.sock")
	l, err := appserver.Listen("unix:"+sock, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	s := &appserver.Server{Handler: h, Logger: quiet}
	go s.Serve(l)
	b.Cleanup(func() { s.Close() })
	return sock
}
