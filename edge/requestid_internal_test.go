package edge

import (
	"net/http"
	"testing"

	"github.com/stack-web/stack/edge/internal/reqid"
)

// BenchmarkSetRequestID: deciding and setting a request's id, untrusted
// client (the common case): one allocation, the id's string.
func BenchmarkSetRequestID(b *testing.B) {
	b.ReportAllocs()
	r := &http.Request{RemoteAddr: "127.0.0.1:5000", Header: http.Header{"X-Request-Id": {"client"}}}
	w := &clientWriter{}
	for b.Loop() {
		w.setRequestID(r, nil)
	}
}

func TestSetRequestIDAllocatesOnlyTheString(t *testing.T) {
	r := &http.Request{RemoteAddr: "127.0.0.1:5000", Header: http.Header{}}
	w := &clientWriter{}
	if n := testing.AllocsPerRun(100, func() { w.setRequestID(r, nil) }); n > 1 {
		t.Errorf("setRequestID: %v allocations, want 1 (the id)", n)
	}
}

// The edge's exported name and the one its internal packages use (the
// forwarder keeps it through Connection, the access log reads it) agree.
func TestHeaderRequestIDIsReqidHeader(t *testing.T) {
	if HeaderRequestID != reqid.Header {
		t.Fatalf("edge.HeaderRequestID %q, reqid.Header %q", HeaderRequestID, reqid.Header)
	}
}
