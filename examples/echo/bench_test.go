package echo

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkEcho is the handler alone on the request bench.sh's echo rows
// send (GET /echo/x?a=1 with wrk's headers, no body).
func BenchmarkEcho(b *testing.B) {
	h := New()
	r := httptest.NewRequest("GET", "/echo/x?a=1", nil)
	r.Header.Set("Host", "127.0.0.1:8000")
	r.Header.Set("X-Request-Id", "0123456789abcdef0123456789abcdef")
	r.Header.Set("X-Forwarded-For", "127.0.0.1")
	r.Header.Set("X-Forwarded-Proto", "http")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}
