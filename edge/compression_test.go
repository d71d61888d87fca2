package edge_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/uwsgi"
)

// compressPage is a page worth compressing (about 10 KB).
var compressPage = strings.Repeat("<li>What is your favourite colour? 42 votes</li>\n", 200)

// compressConfig is an edge with compression on, proxying to sock and
// serving dir under /static/.
func compressConfig(sock, dir string) edge.Config {
	cfg := uwsgiConfig(sock)
	cfg.Compression.Gzip, cfg.Compression.Zstd = true, true
	cfg.Locations = append(cfg.Locations, edge.LocationConfig{Path: "/static/", Root: dir})
	off := false
	cfg.Locations = append(cfg.Locations, edge.LocationConfig{Path: "/plain/", Upstream: "app", Compression: &off})
	return cfg
}

func compressGet(t *testing.T, url, ae string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if ae != "" {
		req.Header.Set("Accept-Encoding", ae)
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func compressDecode(t *testing.T, coding string, b []byte) string {
	t.Helper()
	var r io.Reader
	switch coding {
	case "":
		return string(b)
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decoding %s: %v", coding, err)
	}
	return string(out)
}

// Through the edge, proxied and static responses are compressed for the
// client that accepts it; the access log counts the bytes sent.
func TestEdgeCompressesProxiedAndStatic(t *testing.T) {
	up := startFakeUpstream(t, func(c net.Conn, vars uwsgi.Vars) {
		switch vars.Value("PATH_INFO") {
		case "/hello", "/plain/hello":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\nHello, world!\n")
		case "/chunked":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n")
			fmt.Fprintf(c, "%x\r\n%s\r\n0\r\n\r\n", len(compressPage), compressPage)
		default:
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nETag: \"p1\"\r\nContent-Length: %d\r\n\r\n%s", len(compressPage), compressPage)
		}
	})
	dir := t.TempDir()
	css := strings.Repeat("body { color: red; margin: 0 auto; }\n", 3000) // 110 KB: from disk
	os.WriteFile(filepath.Join(dir, "big.css"), []byte(css), 0o644)
	os.WriteFile(filepath.Join(dir, "small.css"), []byte(css[:2000]), 0o644)
	logFile := filepath.Join(t.TempDir(), "access.log")
	cfg := compressConfig(up.sock, dir)
	cfg.AccessLog = logFile
	base, _ := startEdgeLogged(t, cfg)

	for _, path := range []string{"/page", "/chunked", "/static/big.css", "/static/small.css"} {
		want := compressPage
		switch path {
		case "/static/big.css":
			want = css
		case "/static/small.css":
			want = css[:2000]
		}
		for ae, coding := range map[string]string{"gzip": "gzip", "gzip, deflate, br, zstd": "zstd", "": ""} {
			resp, body := compressGet(t, base+path, ae)
			if got := resp.Header.Get("Content-Encoding"); got != coding {
				t.Errorf("%s %q: Content-Encoding %q, want %q", path, ae, got, coding)
				continue
			}
			if compressDecode(t, coding, body) != want {
				t.Errorf("%s %q: the decoded body differs", path, ae)
			}
			if resp.Header.Get("Vary") != "Accept-Encoding" {
				t.Errorf("%s %q: Vary %q", path, ae, resp.Header.Get("Vary"))
			}
			if coding != "" && len(body)*3 > len(want) {
				t.Errorf("%s %q: %d bytes for %d", path, ae, len(body), len(want))
			}
		}
	}
	// Small, or turned off for the location: untouched.
	for _, path := range []string{"/hello", "/plain/hello", "/plain/page"} {
		resp, body := compressGet(t, base+path, "gzip, zstd")
		if resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Vary") != "" || (path != "/plain/page" && string(body) != "Hello, world!\n") {
			t.Errorf("%s: %v %q", path, resp.Header, body)
		}
	}
	// HEAD and Range pass untouched, proxied or static.
	for _, tc := range []struct{ method, path, rng string }{
		{"HEAD", "/page", ""}, {"HEAD", "/static/big.css", ""}, {"GET", "/static/big.css", "bytes=10-19"},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, nil)
		req.Header.Set("Accept-Encoding", "gzip, zstd")
		if tc.rng != "" {
			req.Header.Set("Range", tc.rng)
		}
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Header.Get("Content-Encoding") != "" || resp.ContentLength < 0 {
			t.Errorf("%s %s %s: %v", tc.method, tc.path, tc.rng, resp.Header)
		}
		if tc.rng != "" && (resp.StatusCode != 206 || string(body) != css[10:20]) {
			t.Errorf("Range: %d %q", resp.StatusCode, body)
		}
	}
	resp, body := compressGet(t, base+"/page", "gzip")
	if resp.Header.Get("ETag") != `W/"p1"` {
		t.Errorf("compressed ETag %q", resp.Header.Get("ETag"))
	}
	// The access log counts what was sent: the compressed bytes.
	deadline := time.Now().Add(5 * time.Second)
	for {
		log, _ := os.ReadFile(logFile)
		if strings.Contains(string(log), fmt.Sprintf(`"GET /page HTTP/1.1" 200 %d `, len(body))) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access log line with %d bytes for the compressed /page:\n%s", len(body), log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// An upstream cut mid-body with compression on still aborts the client:
// no last chunk, no end of the gzip stream, buffered or not.
func TestEdgeCompressedTruncatedUpstreamAbortsClient(t *testing.T) {
	for _, buffering := range []bool{true, false} {
		for _, upResp := range []string{
			"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x\r\n%s\r\n", len(compressPage), compressPage),
			"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n" + fmt.Sprintf("Content-Length: %d\r\n\r\n%s", 2*len(compressPage), compressPage),
		} {
			up := startFakeUpstream(t, func(c net.Conn, _ uwsgi.Vars) { io.WriteString(c, upResp) })
			cfg := compressConfig(up.sock, t.TempDir())
			cfg.Buffering = buffering
			base, log := startEdgeLogged(t, cfg)
			got, ended := rawExchange(t, base, "GET /x HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n", 5*time.Second)
			if !ended {
				t.Fatalf("buffering %v: the edge kept the connection open after the upstream died", buffering)
			}
			log.waitFor(t, "upstream prematurely closed connection")
			if got == "" {
				continue // nothing left the edge's buffer: as broken as a short one
			}
			if strings.HasSuffix(got, "0\r\n\r\n") {
				t.Errorf("buffering %v: the client got the last chunk of a truncated response", buffering)
			}
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(got)), nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("buffering %v: not compressed: %v", buffering, resp.Header)
			}
			body, err := io.ReadAll(resp.Body)
			if err == nil {
				t.Errorf("buffering %v: the chunked body read as complete", buffering)
			}
			if zr, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
				if _, err := io.ReadAll(zr); err == nil {
					t.Errorf("buffering %v: the gzip stream is complete", buffering)
				}
			}
		}
	}
}

// BenchmarkEdgeCompression: the edge in front of an appserver with
// compression off and on, for a client sending a browser's
// Accept-Encoding: hello (below min_length, never compressed) and a
// 10 KB page (compressed when on). One process, CPU of both tiers per
// request, with allocations.
func BenchmarkEdgeCompression(b *testing.B) {
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", fmt.Sprint(len(compressPage)))
		io.WriteString(w, compressPage)
	})
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "1k.bin"), make([]byte, 1024), 0o644)
	os.WriteFile(filepath.Join(dir, "1k.txt"), []byte(compressPage[:1024]), 0o644)
	for _, tc := range []struct {
		name, path string
		h          http.Handler
	}{{"hello", "/", hello}, {"page-10KB", "/", page}, {"static-1k.bin", "/static/1k.bin", nil}, {"static-1k.txt", "/static/1k.txt", nil}} {
		for _, on := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/compression-%v", tc.name, on), func(b *testing.B) {
				cfg := proxyConfig("unix:" + startApp(b, hello))
				if tc.h != nil {
					cfg = proxyConfig("unix:" + startApp(b, tc.h))
				}
				cfg.Locations = append(cfg.Locations, edge.LocationConfig{Path: "/static/", Root: dir})
				cfg.Compression.Gzip, cfg.Compression.Zstd, cfg.Compression.Precompressed = on, on, on
				benchClientHeader(b, startEdge(b, cfg), tc.path, "Accept-Encoding: gzip, deflate, br, zstd\r\n")
			})
		}
	}
}

// cpuNanos is the process's user and system time: on a busy machine it
// tells more than the wall time.
func cpuNanos() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// benchClientHeader is benchClient with extra header lines.
func benchClientHeader(b *testing.B, base, path, header string) {
	b.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\n" + header + "\r\n")
	br := bufio.NewReader(c)
	get := &http.Request{Method: "GET"}
	b.ReportAllocs()
	cpu := cpuNanos()
	defer func() { b.ReportMetric(float64(cpuNanos()-cpu)/float64(b.N), "cpu-ns/op") }()
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
}
