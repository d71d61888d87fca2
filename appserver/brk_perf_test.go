package appserver

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// A handler's WriteString (io.WriteString, fmt's fast path) must answer
// exactly as Write with the same bytes: the same head, body, Content-Length
// and return values, before and after WriteHeader, for HEAD, for a status
// without a body, past a declared length and past the held-back buffer.
func TestBrkPerfWriteStringAsWrite(t *testing.T) {
	type step struct {
		header string // a Content-Length to set before anything
		code   int    // WriteHeader before the writes when > 0
		writes []int  // sizes of the writes
		flush  int    // Flush after this many writes when > 0
	}
	steps := map[string]step{
		"one":          {writes: []int{12}},
		"empty":        {writes: []int{0, 0}},
		"held-back":    {writes: []int{100, 200, 300}},
		"exact-cap":    {writes: []int{pendingSize}},
		"past-cap":     {writes: []int{pendingSize - 1, 2, 5000}},
		"huge":         {writes: []int{3 * pendingSize}},
		"declared":     {header: "10", writes: []int{4, 6}},
		"over":         {header: "10", writes: []int{4, 7, 6}},
		"short":        {header: "10", writes: []int{4}},
		"bad-declared": {header: "x", writes: []int{4}},
		"204":          {code: 204, writes: []int{5}},
		"304":          {code: 304, writes: []int{5}},
		"404":          {code: 404, writes: []int{5, 5000}},
		"flushed":      {writes: []int{3, 4, 5}, flush: 1},
		"flushed-201":  {code: 201, writes: []int{3, 5000, 5}, flush: 2},
		"sniff-html":   {writes: []int{-1}},
	}
	var mu sync.Mutex
	results := map[string]string{} // returns seen by the handler, by mode and case
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mode, name, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		st := steps[name]
		if st.header != "" {
			w.Header().Set("Content-Length", st.header)
		}
		if st.code > 0 {
			w.WriteHeader(st.code)
		}
		var rets []string
		for i, n := range st.writes {
			s := strings.Repeat(string(rune('a'+i)), max(n, 0))
			if n < 0 {
				s = "<!DOCTYPE html><p>x"
			}
			var got int
			var err error
			if mode == "string" {
				got, err = io.WriteString(w, s)
			} else {
				got, err = w.Write([]byte(s))
			}
			rets = append(rets, fmt.Sprint(got, err))
			if st.flush == i+1 {
				w.(http.Flusher).Flush()
			}
		}
		mu.Lock()
		results[r.Method+" "+mode+" "+name] = strings.Join(rets, ",")
		mu.Unlock()
	})
	sock := startServer(t, &Server{Handler: h})
	for name := range steps {
		for _, method := range []string{"GET", "HEAD"} {
			path := name
			asBytes := rawExchange(t, sock, request(method, "/bytes/"+path, ""))
			asString := rawExchange(t, sock, request(method, "/string/"+path, ""))
			if asBytes != asString {
				t.Errorf("%s %s: Write answered\n%.300q\nWriteString answered\n%.300q", method, name, asBytes, asString)
			}
			mu.Lock()
			b, s := results[method+" bytes "+name], results[method+" string "+name]
			mu.Unlock()
			if b != s {
				t.Errorf("%s %s: Write returned %s, WriteString %s", method, name, b, s)
			}
		}
	}
}
