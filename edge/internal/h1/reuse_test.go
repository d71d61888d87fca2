package h1

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
)

// The request and response header maps a connection reuses from one
// request to the next (head.hdr, response.header) carry nothing over: each
// request sees its own fields only, and each response sends only what its
// handler set, pipelined or not, with a head larger than what is kept
// (keptFields) in between.
func TestHeaderMapsReusedCarryNothingOver(t *testing.T) {
	addr := serve(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var names []string
		for k, vv := range r.Header {
			names = append(names, k+"="+strings.Join(vv, ","))
		}
		sort.Strings(names)
		if v := r.Header.Get("X-Set"); v != "" {
			w.Header().Set("X-Resp-"+v, "1")
		}
		fmt.Fprintf(w, "[%s]", strings.Join(names, " "))
	})})
	var big strings.Builder
	for i := range keptFields + 5 {
		fmt.Fprintf(&big, "X-Big-%d: %d\r\n", i, i)
	}
	raw := "GET /1 HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nX-A: 2\r\nX-Set: one\r\n\r\n" +
		"GET /2 HTTP/1.1\r\nHost: a\r\nX-B: 3\r\n\r\n" +
		"GET /3 HTTP/1.1\r\nHost: a\r\n" + big.String() + "X-Set: three\r\n\r\n" +
		"GET /4 HTTP/1.1\r\nHost: a\r\nX-C: 4\r\nConnection: close\r\n\r\n"
	got := exchange(t, addr, raw)
	resps := strings.Split(got, "HTTP/1.1 200 OK")[1:]
	if len(resps) != 4 {
		t.Fatalf("%d responses, want 4: %q", len(resps), got)
	}
	want := []string{"[X-A=1,2 X-Set=one]", "[X-B=3]", "X-Set=three]", "[Connection=close X-C=4]"}
	for i, r := range resps {
		if !strings.Contains(r, want[i]) {
			t.Errorf("response %d: %q, want the request's fields %q only", i+1, r, want[i])
		}
		if has := strings.Contains(r, "X-Resp-One"); has != (i == 0) {
			t.Errorf("response %d: X-Resp-One present %v: %q", i+1, has, r)
		}
		if has := strings.Contains(r, "X-Resp-Three"); has != (i == 2) {
			t.Errorf("response %d: X-Resp-Three present %v: %q", i+1, has, r)
		}
	}
	if strings.Contains(resps[3], "X-Big") || strings.Contains(resps[1], "X-A") {
		t.Errorf("a field carried over: %q", got)
	}
}
