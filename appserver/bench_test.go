package appserver

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

func BenchmarkServe(b *testing.B) {
	benchmarkServe(b, &Server{})
}

// BenchmarkServeWorkerDefaults serves as a worker does with the default
// configuration: harakiri 30s (a cancellable context, the write gate and
// the watchdog's bookkeeping per request) and a statistics hook.
func BenchmarkServeWorkerDefaults(b *testing.B) {
	benchmarkServe(b, &Server{Harakiri: 30 * time.Second, SocketTimeout: 4 * time.Second,
		OnRequest: func(time.Duration, int64, bool) {}})
}

// benchmarkServe measures a connection per request, as nginx's uwsgi_pass
// makes them: dial, write the packet, read the response to its end, close.
func benchmarkServe(b *testing.B, s *Server) {
	s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "Hello, web!\n")
	})
	path := filepath.Join(b.TempDir(), "app.sock")
	l, err := Listen("unix:"+path, 0o660)
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve(l)
	defer s.Close()
	raw := request("GET", "/", "")
	buf := make([]byte, 4096)
	b.ReportAllocs()
	for b.Loop() {
		c, err := net.Dial("unix", path)
		if err != nil {
			b.Fatal(err)
		}
		c.Write(raw)
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		c.Close()
	}
}
