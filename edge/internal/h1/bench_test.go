package h1

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkPipelinedGets serves small GETs, 16 pipelined per write, over a
// loopback connection.
func BenchmarkPipelinedGets(b *testing.B) {
	addr := serve(b, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello")
	})})
	benchPipelined(b, addr)
}

// BenchmarkPipelinedGetsNetHTTP is the same with net/http's server.
func BenchmarkPipelinedGetsNetHTTP(b *testing.B) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	s := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello")
	})}
	go s.Serve(l)
	defer s.Close()
	benchPipelined(b, l.Addr().String())
}

// BenchmarkKeepAliveProxied serves small GETs one at a time on kept-alive
// loopback connections (wrk's pattern) to a handler that waits on its
// context as the edge's proxy does (context.AfterFunc in the uwsgi
// transport), sets a write deadline as the edge's send_timeout does, and
// answers at once, as a fast upstream does.
func BenchmarkKeepAliveProxied(b *testing.B) {
	addr := serve(b, &Server{ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			stop := context.AfterFunc(r.Context(), func() {})
			defer stop()
			http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute))
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "hello")
		})})
	const conns = 4
	req := "GET /hello HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	var wg sync.WaitGroup
	for k := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Error(err)
				return
			}
			defer c.Close()
			buf := make([]byte, 4096)
			for i := k; i < b.N; i += conns {
				io.WriteString(c, req)
				for got := ""; !strings.HasSuffix(got, "hello"); {
					n, err := c.Read(buf)
					if err != nil {
						b.Error(err)
						return
					}
					got += string(buf[:n])
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

func benchPipelined(b *testing.B, addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	const depth = 16
	req := strings.Repeat("GET /hello HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n", depth)
	buf := make([]byte, 64<<10)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	defer func() {
		// CPU time of the process (server and this client) per request:
		// steadier than wall time on a shared machine.
		b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
	}()
	for i := 0; i < b.N; i += depth {
		io.WriteString(c, req)
		// Each response ends with its body, "hello"; the client does no
		// more than count them, so the figures are the server's.
		seen := 0
		for seen < depth {
			n, err := c.Read(buf)
			if err != nil {
				b.Fatal(err)
			}
			seen += strings.Count(string(buf[:n]), "hello")
		}
	}
}

// processCPU is the user and system CPU time of this process so far, in ns.
func processCPU() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
