package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The real edge, a large static file compressed on the fly (gzip, so
// sent chunked) and truncated while it is sent: the response must be cut,
// not ended with a last chunk after the bytes there were. The handler
// returned normally from a short copy, the compressor closed the stream
// and a client got a complete, well-formed response (gunzip happy) that
// was not the file: 17.8 MB of a 20 MB file, measured before the fix.
func TestBrkStaticTruncatedWhileCompressedIsCut(t *testing.T) {
	files := t.TempDir()
	dir := writeConfig(t, fmt.Sprintf(`
edge:
  listen: ["127.0.0.1:0"]
  compression: {gzip: true}
  locations:
    - {path: /files/, root: %q}
`, files))
	p := start(t, dir, "edge")
	url := p.url()
	// Random bytes do not compress: the edge stops reading the file once
	// the sockets' buffers are full, well before its end.
	body := make([]byte, 16<<20)
	rand.Read(body)
	path := filepath.Join(files, "big.txt")
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	dialer := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10) })
		return nil
	}}
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		DisableCompression: true,
		DialContext:        func(ctx context.Context, n, a string) (net.Conn, error) { return dialer.DialContext(ctx, n, a) },
	}}
	req, _ := http.NewRequest("GET", url+"files/big.txt", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("%d, Content-Encoding %q: want a gzip 200", resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
	head := make([]byte, 64<<10)
	if _, err := io.ReadFull(resp.Body, head); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 1<<20); err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil {
		t.Errorf("the file truncated while sent: a complete response of %d bytes (the file had %d)", int64(len(head))+n, len(body))
	} else {
		t.Logf("cut after %d bytes: %v", int64(len(head))+n, err)
	}
}
