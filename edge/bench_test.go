package edge_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stack-web/stack/edge"
)

// benchClient sends GETs one after another on one kept connection and
// reads each whole response: the CPU of both tiers per request, in one
// process, with allocations (go test -bench . -benchmem ./edge/).
func benchClient(b *testing.B, base, path string) {
	b.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\n\r\n")
	br := bufio.NewReader(c)
	get := &http.Request{Method: "GET"}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU(b)
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, get)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	// The CPU of client, edge and upstream together: what differs between
	// two versions of the edge is the edge's.
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "Hello, web!\n")
})

// The edge in front of an appserver over uwsgi, the hello app: with kept
// upstream connections (the default) and with a connection per request
// (nginx's uwsgi_pass, keepalive: 0).
func BenchmarkProxyHello(b *testing.B) {
	for _, keep := range []int{64, 0} {
		name := "keepalive"
		if keep == 0 {
			name = "conn-per-request"
		}
		b.Run(name, func(b *testing.B) {
			cfg := proxyConfig("unix:" + startApp(b, hello))
			up := cfg.Upstreams["app"]
			up.KeepAlive = keep
			cfg.Upstreams["app"] = up
			cfg.AccessLog = "off"
			benchClient(b, startEdge(b, cfg), "/")
		})
	}
}

// The edge in front of an upstream that answers as uWSGI does: a response
// with a Content-Length, then the connection closed (a connection per
// request). The upstream is canned and costs next to nothing, so the
// figures are the edge's and the client's.
func BenchmarkProxyOverUwsgiLike(b *testing.B) {
	sock := startCannedClose(b, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nHello, web!\n", true)
	cfg := proxyConfig("unix:" + sock)
	cfg.AccessLog = "off"
	benchClient(b, startEdge(b, cfg), "/")
}

// The same answer without its length, as uWSGI sends a WSGI app's: the
// edge peeks for the close to give it one (upstream's closesSoon).
func BenchmarkProxyOverUwsgiNoLength(b *testing.B) {
	sock := startCannedClose(b, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nHello, web!\n", true)
	cfg := proxyConfig("unix:" + sock)
	cfg.AccessLog = "off"
	benchClient(b, startEdge(b, cfg), "/")
}

// A 1 KiB static file through the edge (from its small-file cache).
func BenchmarkStaticThroughEdge(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "1k.bin"), make([]byte, 1024), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg := edge.DefaultConfig()
	cfg.Locations = []edge.LocationConfig{{Path: "/files/", Root: dir}}
	cfg.AccessLog = "off"
	benchClient(b, startEdge(b, cfg), "/files/1k.bin")
}
