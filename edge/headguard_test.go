package edge_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/edge"
)

// headOf returns a GET head of exactly n bytes (line ends included).
func headOf(t *testing.T, target string, n int) string {
	t.Helper()
	start := "GET " + target + " HTTP/1.1\r\nHost: a\r\nConnection: close\r\nX-Pad: "
	pad := n - len(start) - len("\r\n\r\n")
	if pad < 0 {
		t.Fatalf("cannot make a %d-byte head", n)
	}
	return start + strings.Repeat("p", pad) + "\r\n\r\n"
}

// max_header_size is enforced to the byte, a request line over a quarter
// of it is 414, and every refusal is in the access log, including those
// net/http makes itself.
func TestHeadLimitsAreExactAndLogged(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "f.txt"), []byte("file"), 0o644)
	cfg := edge.DefaultConfig() // max_header_size 32KiB
	cfg.Locations = []edge.LocationConfig{{Path: "/", Root: root}}
	cfg.AccessLog = filepath.Join(t.TempDir(), "access.log")
	base, _ := startEdgeLogged(t, cfg)

	status := func(raw string) string {
		got, _ := rawExchange(t, base, raw, 5*time.Second)
		code, _, _ := strings.Cut(strings.TrimPrefix(got, "HTTP/1.1 "), " ")
		return code
	}
	for _, tc := range []struct {
		name, raw, want string
	}{
		{"a head of exactly 32KiB", headOf(t, "/f.txt", 32<<10), "200"},
		{"one byte more", headOf(t, "/f.txt", 32<<10+1), "431"},
		{"36 KB, which net/http alone let through", headOf(t, "/f.txt", 36000), "431"},
		{"a head far over, refused by net/http", headOf(t, "/f.txt", 200<<10), "431"},
		{"a 20 KiB URI", "GET /f.txt?" + strings.Repeat("q", 20<<10) + " HTTP/1.1\r\nHost: a\r\n\r\n", "414"},
		{"an 8 KiB request line is still fine", "GET /f.txt?" + strings.Repeat("q", 8<<10-len("GET /f.txt? HTTP/1.1\r\n")) + " HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "200"},
		{"a 100 KiB URI, refused by net/http", "GET /f.txt?" + strings.Repeat("u", 100<<10) + " HTTP/1.1\r\nHost: a\r\n\r\n", "414"},
	} {
		if got := status(tc.raw); got != tc.want {
			t.Errorf("%s: status %s, want %s", tc.name, got, tc.want)
		}
	}
	log := waitFileHolds(t, cfg.AccessLog, "uuuu")
	for _, want := range []string{`" 431 `, `" 414 `} {
		if n := strings.Count(log, want); n < 2 {
			t.Errorf("access log has %d lines with %s, want 2 (ours and net/http's):\n%.2000s", n, want, log)
		}
	}
}

// A head net/http refuses as malformed is in the access log too.
func TestMalformedHeadRefusedByNetHTTPIsLogged(t *testing.T) {
	cfg := edge.DefaultConfig()
	cfg.Locations = []edge.LocationConfig{{Path: "/", Root: t.TempDir()}}
	cfg.AccessLog = filepath.Join(t.TempDir(), "access.log")
	base, _ := startEdgeLogged(t, cfg)
	got, _ := rawExchange(t, base, "GET /bad HTTP/1.1\r\nHost: a\r\nNo colon here\r\n\r\n", 5*time.Second)
	if !strings.HasPrefix(got, "HTTP/1.1 400 ") {
		t.Fatalf("got %q, want net/http's 400", got)
	}
	waitFileHolds(t, cfg.AccessLog, `"GET /bad HTTP/1.1" 400 `)
}
