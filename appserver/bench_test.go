package appserver

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stack-web/stack/uwsgi"
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

// BenchmarkServeKept measures a request on a kept connection, as the edge
// sends them (its vars, wrk's headers, keep-alive): write the packet, read
// the response. With worker defaults (harakiri, a statistics hook).
func BenchmarkServeKept(b *testing.B) {
	s := &Server{Harakiri: 30 * time.Second, SocketTimeout: 4 * time.Second,
		OnRequest: func(time.Duration, int64, bool) {}}
	s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = []string{"text/plain; charset=utf-8"}
		w.Write([]byte("Hello, web!"))
	})
	path := filepath.Join(b.TempDir(), "app.sock")
	l, err := Listen("unix:"+path, 0o660)
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve(l)
	defer s.Close()
	var e uwsgi.Encoder
	e.Reset(nil, 0, 0)
	for _, kv := range [][2]string{{"QUERY_STRING", ""}, {"REQUEST_METHOD", "GET"}, {"CONTENT_TYPE", ""},
		{"CONTENT_LENGTH", ""}, {"REQUEST_URI", "/"}, {"PATH_INFO", "/"}, {"DOCUMENT_ROOT", ""},
		{"SERVER_PROTOCOL", "HTTP/1.1"}, {"REQUEST_SCHEME", "http"}, {"REMOTE_ADDR", "127.0.0.1"},
		{"REMOTE_PORT", "40000"}, {"SERVER_PORT", "8000"}, {"SERVER_NAME", "127.0.0.1"},
		{"HTTP_HOST", "127.0.0.1:8000"}, {"HTTP_X_REQUEST_ID", "0123456789abcdef0123456789abcdef"},
		{"HTTP_X_FORWARDED_FOR", "127.0.0.1"}, {"HTTP_X_FORWARDED_PROTO", "http"},
		{"STACK_RESPONSE_FRAMING", "chunked"}, {uwsgi.VarKeepAlive, "1"},
		{"STACK_REQUEST_START", "1764500000000000"}, {"STACK_REQUEST_ID", "0123456789abcdef0123456789abcdef"}} {
		e.Add(kv[0], kv[1])
	}
	raw, err := e.Bytes(0)
	if err != nil {
		b.Fatal(err)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	req := &http.Request{Method: "GET"}
	cpu0 := processCPU()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(raw); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// The process's CPU time (server and client) per request: steadier
	// than the wall clock on a busy shared machine.
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU is this process's user and system time, in ns.
func processCPU() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
