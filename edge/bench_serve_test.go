package edge_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/uwsgi"
)

// BenchmarkEdgeServeHTTP is the edge's whole proxied path in process:
// Edge.ServeHTTP, from a request as the server hands it (with a
// cancellable context) to the last byte written to a ResponseWriter that
// keeps nothing, over a kept uwsgi connection on a Unix socket.
//
//   - canned: the upstream is a loop that answers every request with the
//     same bytes and allocates nothing, so -benchmem counts the edge's
//     allocations alone;
//   - appserver: the project's appserver with the hello handler (its
//     allocations count too).
//
// go test -bench EdgeServeHTTP -benchmem -run '^$' ./edge/
func BenchmarkEdgeServeHTTP(b *testing.B) {
	b.Run("canned", func(b *testing.B) {
		benchServe(b, startCanned(b, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 12\r\n"+
			uwsgi.KeepAliveHeader+": 1\r\n\r\nHello, web!\n"))
	})
	b.Run("appserver", func(b *testing.B) {
		benchServe(b, startApp(b, hello))
	})
}

func benchServe(b *testing.B, sock string) {
	cfg := proxyConfig("unix:" + sock)
	cfg.AccessLog = "off"
	e, err := edge.New(cfg, b.TempDir(), quiet)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	w := &discardWriter{h: make(http.Header)}
	u := &url.URL{Path: "/hello"}
	b.ReportAllocs()
	cpu0 := processCPU(b)
	for b.Loop() {
		// What net/http's server makes of "GET /hello" from wrk.
		ctx, cancel := context.WithCancel(context.Background())
		r := &http.Request{Method: "GET", URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Accept": {"*/*"}}, Host: "bench", RemoteAddr: "127.0.0.1:40000",
			RequestURI: "/hello", Body: http.NoBody}
		r = r.WithContext(ctx)
		clear(w.h)
		w.status, w.n = 0, 0
		e.ServeHTTP(w, r)
		cancel()
		if w.status != 200 || w.n != 12 {
			b.Fatalf("status %d, %d bytes", w.status, w.n)
		}
	}
	// CPU time says more than ns/op, which is mostly the wait for the
	// upstream's goroutine on a busy machine.
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU is the process's user and system CPU time so far, in ns.
func processCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// discardWriter is a ResponseWriter that keeps only the status and a byte
// count: what the benchmark measures is the edge, not a recorder.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	w.n += len(p)
	return len(p), nil
}
func (w *discardWriter) Flush() {}

// SetWriteDeadline is there because net/http's writer has it (the edge
// renews send_timeout through it).
func (w *discardWriter) SetWriteDeadline(time.Time) error { return nil }

// startCanned serves uwsgi on a temp Unix socket: each request (its
// packet and its CONTENT_LENGTH bytes of body, here none) is answered
// with resp, on connections kept as long as the edge keeps them.
func startCanned(b testing.TB, resp string) string { return startCannedClose(b, resp, false) }

// startCannedClose is startCanned; with closeEach, it closes each
// connection after its answer, as uWSGI does.
func startCannedClose(b testing.TB, resp string, closeEach bool) string {
	sock := filepath.Join(b.TempDir(), "canned.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReaderSize(c, 4096)
				for {
					var head [4]byte
					if _, err := io.ReadFull(br, head[:]); err != nil {
						return
					}
					if _, err := br.Discard(int(binary.LittleEndian.Uint16(head[1:3]))); err != nil {
						return
					}
					if _, err := io.WriteString(c, resp); err != nil || closeEach {
						return
					}
				}
			})
		}
	})
	b.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return sock
}
