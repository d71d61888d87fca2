package edge_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/examples/echo"
	"github.com/stack-web/stack/uwsgi"
)

// A WebSocket upgrade passes through the compressing writer untouched
// (101, then the hijacked connection), over uwsgi and http, for a client
// that accepts gzip and zstd.
func TestEdgeCompressionLeavesWebSocketsAlone(t *testing.T) {
	for name, cfg := range wsUpstreams(t, echo.New()) {
		t.Run(name, func(t *testing.T) {
			cfg.Compression.Gzip, cfg.Compression.Zstd = true, true
			e, base := wsEdge(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, resp, err := websocket.Dial(ctx, base+"/ws", &websocket.DialOptions{HTTPHeader: http.Header{"Accept-Encoding": {"gzip, deflate, br, zstd"}}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Content-Encoding") != "" {
				t.Fatalf("status %d, %v", resp.StatusCode, resp.Header)
			}
			c.SetReadLimit(1 << 20)
			big := make([]byte, 200<<10)
			rand.Read(big)
			for i, msg := range [][]byte{[]byte(strings.Repeat("compressible ", 100)), big} {
				if err := c.Write(ctx, websocket.MessageBinary, msg); err != nil {
					t.Fatalf("write %d: %v", i, err)
				}
				if _, got, err := c.Read(ctx); err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("message %d: %d bytes back, err %v", i, len(got), err)
				}
			}
			if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
				t.Fatalf("close: %v", err)
			}
			waitFor(t, "closed at the edge", func() bool { return e.OpenConnections() == 0 })
		})
	}
}

// X-Accel-Redirect still finds its proxy behind the compression wrapper
// (and the metrics theirs), and the file it serves is compressed like any
// other: a text file for a client that accepts it, a PDF never.
func TestEdgeCompressionWithXAccelRedirect(t *testing.T) {
	dir := t.TempDir()
	protected := filepath.Join(dir, "protected")
	os.Mkdir(protected, 0o755)
	pdf := bytes.Repeat([]byte("%PDF-1.4 0123456789\n"), 20_000)
	os.WriteFile(filepath.Join(protected, "report.pdf"), pdf, 0o644)
	os.WriteFile(filepath.Join(protected, "notes.txt"), []byte(compressPage), 0o644)
	cfg := httpApp(t, http.HandlerFunc(accelApp))
	cfg.Locations = []edge.LocationConfig{
		{Path: "/", Upstream: "app"},
		{Path: "/protected/", Root: protected, Internal: true},
	}
	cfg.Compression.Gzip, cfg.Compression.Zstd = true, true
	_, addr := limitsEdge(t, cfg, prometheus.NewRegistry())
	base := "http://" + addr
	for _, tc := range []struct{ path, ae, coding, want string }{
		{"/download/notes.txt", "gzip, zstd", "zstd", compressPage},
		{"/download/notes.txt", "gzip", "gzip", compressPage},
		{"/download/notes.txt", "", "", compressPage},
		{"/download/report.pdf", "gzip, zstd", "", string(pdf)},
	} {
		resp, body := compressGet(t, base+tc.path, tc.ae)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != tc.coding {
			t.Errorf("%s %q: %d, Content-Encoding %q, want %q", tc.path, tc.ae, resp.StatusCode, resp.Header.Get("Content-Encoding"), tc.coding)
			continue
		}
		if compressDecode(t, tc.coding, body) != tc.want {
			t.Errorf("%s %q: not the file", tc.path, tc.ae)
		}
	}
}

// Server-sent events through the edge with compression on: each event
// reaches the client, decodable, before the app writes the next (the
// app's flush flushes the encoder), over uwsgi and http, buffered.
func TestEdgeCompressedStreamFlushesEachEvent(t *testing.T) {
	next := make(chan struct{})
	sse := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: event %d\n\n", i)
			http.NewResponseController(w).Flush()
			select {
			case <-next:
			case <-time.After(5 * time.Second):
				return
			}
		}
	})
	for name, cfg := range map[string]edge.Config{"uwsgi": proxyConfig("unix:" + startApp(t, sse)), "http": httpApp(t, sse)} {
		t.Run(name, func(t *testing.T) {
			cfg.Compression.Gzip = true
			base := startEdge(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", base+"/events", nil)
			req.Header.Set("Accept-Encoding", "gzip")
			tr := &http.Transport{DisableCompression: true}
			defer tr.CloseIdleConnections()
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
			}
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(zr)
			for i := range 3 {
				line, err := br.ReadString('\n')
				if want := fmt.Sprintf("data: event %d\n", i); line != want {
					t.Fatalf("event %d: %q, %v", i, line, err)
				}
				br.ReadString('\n')
				select {
				case next <- struct{}{}:
				case <-ctx.Done():
					t.Fatalf("event %d came only once the app had given up waiting: not flushed", i)
				}
			}
		})
	}
}

// Over HTTP/2 (TLS, ALPN) the compressing writer works on net/http's h2
// writer as on HTTP/1.1: a proxied page and a static file, compressed and
// decodable, with Vary; a file that passes keeps its length.
func TestEdgeCompressionOverHTTP2(t *testing.T) {
	up := startFakeUpstream(t, func(c net.Conn, _ uwsgi.Vars) {
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s", len(compressPage), compressPage)
	})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte(compressPage), 0o644)
	os.WriteFile(filepath.Join(dir, "blob.bin"), []byte(compressPage), 0o644)
	cfg := compressConfig(up.sock, dir)
	te := startTLSEdge(t, cfg)
	client := te.client(true)
	for _, tc := range []struct{ path, coding string }{{"/page", "zstd"}, {"/static/notes.txt", "zstd"}, {"/static/blob.bin", ""}} {
		req, _ := http.NewRequest("GET", "https://"+te.secure+tc.path, nil)
		req.Header.Set("Accept-Encoding", "gzip, zstd")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.ProtoMajor != 2 {
			t.Fatalf("%s: HTTP/%d, %v", tc.path, resp.ProtoMajor, err)
		}
		if resp.Header.Get("Content-Encoding") != tc.coding || compressDecode(t, tc.coding, body) != compressPage {
			t.Errorf("%s over h2: Content-Encoding %q, want %q, or the body differs", tc.path, resp.Header.Get("Content-Encoding"), tc.coding)
		}
		if tc.coding == "" && resp.ContentLength != int64(len(compressPage)) {
			t.Errorf("%s over h2: length %d", tc.path, resp.ContentLength)
		}
	}
}
