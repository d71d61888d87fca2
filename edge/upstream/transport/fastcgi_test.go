package transport

import (
	"context"
	"net"
	"net/http"
	"regexp"
	"testing"
)

// BenchmarkFastCGIAppendRequest is the per-request cost of encoding a
// browser-like request's BEGIN_REQUEST and PARAMS records.
func BenchmarkFastCGIAppendRequest(b *testing.B) {
	t := &FastCGITransport{Root: "/srv/www", Index: "index.php", SplitPathInfo: regexp.MustCompile(`^(.+?\.php)(/.*)$`)}
	req, _ := http.NewRequest("GET", "http://example.com/index.php/a/b?x=1", nil)
	req.RemoteAddr = "192.0.2.7:51234"
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36")
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	req.Header.Set("Accept-Language", "en-GB,en;q=0.9")
	req.Header.Set("Cookie", "sessionid=abcdef0123456789; csrftoken=0123456789abcdef")
	req.Header.Set("X-Forwarded-For", "192.0.2.7")
	req.Header.Set("X-Forwarded-Proto", "http")
	req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8000}))
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = t.AppendRequest(buf[:0], req)
	}
	b.ReportMetric(float64(len(buf)), "bytes/request")
}
