package edge

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stack-web/stack/edge/internal/reqbody"
)

// A request body the edge cannot store (its temporary file fails: a full
// disk) is the edge's failure, 500 as in nginx, not the client's 400.
func TestRequestBodyThatCannotBeStoredIs500(t *testing.T) {
	br := reqbody.NewReader(1<<20, 64<<10, time.Second, t.TempDir()+"/missing")
	r := httptest.NewRequest("POST", "/", bytes.NewReader(pattern(200<<10)))
	w := httptest.NewRecorder()
	b, err := br.Read(w, r)
	if err == nil {
		b.Close()
		t.Fatal("a body over client_body_buffer_size was read with no temporary directory")
	}
	refuseBody(w, r, br, err, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if w.Code != http.StatusInternalServerError {
		t.Errorf("status %d for %v, want 500", w.Code, err)
	}
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}
