package edge

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stack-web/stack/edge/internal/reqid"
)

// BenchmarkSetRequestID: deciding and setting a request's id, untrusted
// client (the common case): no allocation (the id's bytes are the
// writer's).
func BenchmarkSetRequestID(b *testing.B) {
	b.ReportAllocs()
	r := &http.Request{RemoteAddr: "127.0.0.1:5000", Header: http.Header{"X-Request-Id": {"client"}}}
	w := &clientWriter{}
	for b.Loop() {
		w.setRequestID(r, nil)
	}
}

func TestSetRequestIDAllocatesNothing(t *testing.T) {
	r := &http.Request{RemoteAddr: "127.0.0.1:5000", Header: http.Header{}}
	w := &clientWriter{}
	if n := testing.AllocsPerRun(100, func() { w.setRequestID(r, nil) }); n > 0 {
		t.Errorf("setRequestID: %v allocations, want 0 (the id's bytes are the writer's)", n)
	}
	// Each request's writer is its own: the ids stay as they were made.
	w1, w2 := &clientWriter{}, &clientWriter{}
	w1.setRequestID(r, nil)
	id1 := strings.Clone(w1.requestID)
	w2.setRequestID(r, nil)
	if w1.requestID != id1 || id1 == w2.requestID || !reqid.Valid(id1) || len(id1) != reqid.Len {
		t.Errorf("ids %q then %q, %q", id1, w1.requestID, w2.requestID)
	}
}

// The edge's exported name and the one its internal packages use (the
// forwarder keeps it through Connection, the access log reads it) agree.
func TestHeaderRequestIDIsReqidHeader(t *testing.T) {
	if HeaderRequestID != reqid.Header {
		t.Fatalf("edge.HeaderRequestID %q, reqid.Header %q", HeaderRequestID, reqid.Header)
	}
}
