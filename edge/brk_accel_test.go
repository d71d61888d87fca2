package edge_test

import (
	"net/http"
	"testing"
)

// A redirect into an internal upstream location sends one Content-Type,
// the inner upstream's (as nginx, whose inner upstream's type replaces the
// one kept from the redirect): the kept headers were set and the inner
// response's added, so the client got two Content-Type (and two
// Content-Disposition) lines.
func TestBrkXAccelInternalUpstreamHeadersNotDoubled(t *testing.T) {
	addr, _ := accelEdge(t)
	resp, body := accelDo(t, addr, "GET", "/download/x?to="+escapeQuery("/inner/y")+"&type=application/pdf", "")
	if resp.StatusCode != http.StatusOK || body != "inner GET /inner/y" {
		t.Fatalf("to an internal upstream: %d %q", resp.StatusCode, body)
	}
	if ct := resp.Header.Values("Content-Type"); len(ct) != 1 || ct[0] != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q, want the inner upstream's one", ct)
	}
	if cd := resp.Header.Values("Content-Disposition"); len(cd) != 1 {
		t.Errorf("Content-Disposition %q, want one", cd)
	}
	if c := resp.Header.Values("Set-Cookie"); len(c) != 1 || c[0] != "seen=1" {
		t.Errorf("Set-Cookie %q, want the app's kept", c)
	}
}
