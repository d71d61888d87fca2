package edge_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/edge"
)

// A client that reads a large file steadily but slowly (the whole
// download takes several send_timeouts) gets all of it. At 1.4 MB/s the
// kernel wakes the sender only about once a second (when a third of a
// 4 MiB send buffer has drained), so a watchdog that looked at the file's
// offset alone cut this client short of the end on every run.
func TestStaticSlowReaderOfALargeFileIsNotCut(t *testing.T) {
	dir := t.TempDir()
	// Larger than the most the kernel's send buffer takes (tcp_wmem's
	// 4 MiB), so that the deadline of the pieces counts.
	want := bytes.Repeat([]byte("0123456789abcdef"), (6<<20)/16)
	if err := os.WriteFile(filepath.Join(dir, "6m.bin"), want, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := edge.DefaultConfig()
	cfg.Locations = []edge.LocationConfig{{Path: "/files/", Root: dir}}
	cfg.AccessLog = "off"
	cfg.SendTimeout = 600 * time.Millisecond
	base := startEdge(t, cfg)
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(16 << 10) // so that the kernel's buffers do not take the file at once
	io.WriteString(c, "GET /files/6m.bin HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 16<<10), nil)
	if err != nil {
		t.Fatal(err)
	}
	// About 1.4 MB/s: 6 MiB take some 4.5 s, over seven send_timeouts.
	start := time.Now()
	var got bytes.Buffer
	buf := make([]byte, 64<<10)
	for {
		n, err := io.ReadFull(resp.Body, buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
		time.Sleep(45 * time.Millisecond)
	}
	t.Logf("read %d bytes in %v", got.Len(), time.Since(start).Round(time.Millisecond))
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("got %d of %d bytes (cut, or wrong content)", got.Len(), len(want))
	}
}

// A client that stops reading a large file is cut after send_timeout (the
// watchdog renews the deadline only on progress): reading again later, it
// finds the connection ended short of the file.
func TestStaticStalledReaderOfALargeFileIsCut(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "10m.bin"), make([]byte, 10<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := edge.DefaultConfig()
	cfg.Locations = []edge.LocationConfig{{Path: "/files/", Root: dir}}
	cfg.AccessLog = "off"
	cfg.SendTimeout = 300 * time.Millisecond
	base := startEdge(t, cfg)
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(16 << 10)
	io.WriteString(c, "GET /files/10m.bin HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(1500 * time.Millisecond) // five timeouts without reading
	c.SetDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, c)
	t.Logf("read %d bytes after the stall (%v)", n, err)
	if n >= 10<<20 {
		t.Fatalf("the whole file (%d bytes) went to a client that stopped reading for five send_timeouts", n)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the edge kept the connection open: %v", err)
	}
}

// procWrites is this process's count of write system calls so far
// (/proc/self/io's syscw; sendfile counts as one).
func procWrites(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			var n int
			fmt.Sscan(v, &n)
			return n
		}
	}
	t.Fatal("no syscw in /proc/self/io")
	return 0
}

// A large static file reaches the socket by sendfile through every writer
// between the handler and the connection (the edge's clientWriter, the
// compression writer when it passes a body untouched, the precompressed
// sibling's): a 4 MiB file takes a few write calls, where a copy through a
// buffer takes over a hundred.
func TestStaticLargeFileReachesTheSocketBySendfile(t *testing.T) {
	dir := t.TempDir()
	body := bytes.Repeat([]byte("sendfile"), (4<<20)/8)
	os.WriteFile(filepath.Join(dir, "4m.bin"), body, 0o644)
	os.WriteFile(filepath.Join(dir, "4m.txt"), body, 0o644)
	os.WriteFile(filepath.Join(dir, "4m.txt.gz"), body, 0o644) // not gzip inside: only its path matters
	for _, c := range []struct {
		name, path, accept string
		gzip               bool
	}{
		{"plain", "/files/4m.bin", "", false},
		{"compression on, type not compressed", "/files/4m.bin", "gzip", true},
		{"compression on, client takes none", "/files/4m.txt", "", true},
		{"precompressed sibling", "/files/4m.txt", "gzip", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := edge.DefaultConfig()
			cfg.Locations = []edge.LocationConfig{{Path: "/files/", Root: dir}}
			cfg.AccessLog = "off"
			cfg.Compression.Gzip = c.gzip
			base := startEdge(t, cfg)
			conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReaderSize(conn, 1<<20)
			get := func() (*http.Response, []byte) {
				req := "GET " + c.path + " HTTP/1.1\r\nHost: x\r\n"
				if c.accept != "" {
					req += "Accept-Encoding: " + c.accept + "\r\n"
				}
				io.WriteString(conn, req+"\r\n")
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				return resp, b
			}
			get() // warm: connections, pools
			before := procWrites(t)
			resp, got := get()
			writes := procWrites(t) - before
			t.Logf("%d write calls for %d bytes (Content-Encoding %q)", writes, len(got), resp.Header.Get("Content-Encoding"))
			if !bytes.Equal(got, body) {
				t.Fatalf("got %d bytes, not the file", len(got))
			}
			if writes > 16 {
				t.Errorf("%d write calls for a 4 MiB file: copied through a buffer, not sent by sendfile", writes)
			}
		})
	}
}

// Over TLS, where there is no sendfile (HTTP/1.1 copies the file through
// the TLS connection, HTTP/2 through its frames), a large file arrives
// whole, with the watchdog on the file's offset renewing the deadline
// while the copy reads.
func TestStaticLargeFileOverTLS(t *testing.T) {
	dir := t.TempDir()
	body := bytes.Repeat([]byte("0123456789abcdef"), (3<<20)/16)
	os.WriteFile(filepath.Join(dir, "3m.bin"), body, 0o644)
	cfg := edge.DefaultConfig()
	cfg.Locations = []edge.LocationConfig{{Path: "/files/", Root: dir}}
	cfg.AccessLog = "off"
	cfg.SendTimeout = 2 * time.Second
	te := startTLSEdge(t, cfg)
	for _, h2 := range []bool{false, true} {
		c := te.client(h2)
		resp, err := c.Get("https://" + te.secure + "/files/3m.bin")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(got, body) || resp.Header.Get("Content-Length") != "3145728" {
			t.Errorf("h2=%v: %d bytes (%v), Content-Length %s", h2, len(got), err, resp.Header.Get("Content-Length"))
		}
		c.CloseIdleConnections()
	}
}
