package static

import (
	"net/http"
	"testing"
)

// A Range in a unit other than bytes is ignored (RFC 9110 §14.2: a server
// MUST ignore a range unit it does not understand), and the unit's name is
// case-insensitive, as nginx reads it: ServeContent answered 416 to both,
// for a small (cached) file and a large one alike.
func TestBrkCacheRangeUnits(t *testing.T) {
	root, _ := staticTree(t)
	s := newTestStatic(t, root)
	for _, file := range []string{"/static/hello.txt", "/static/big.bin"} {
		for range 2 { // the second time from the cache, where the file is small
			w := serveStatic(s, "GET", file, "Range", "items=0-3")
			if w.Code != http.StatusOK || w.Header().Get("Content-Range") != "" {
				t.Errorf("%s with Range items=0-3: %d (Content-Range %q), want 200 with the whole file", file, w.Code, w.Header().Get("Content-Range"))
			}
			w = serveStatic(s, "GET", file, "Range", "Bytes=0-3")
			if w.Code != http.StatusPartialContent || w.Body.Len() != 4 {
				t.Errorf("%s with Range Bytes=0-3: %d, %d bytes, want 206 with 4", file, w.Code, w.Body.Len())
			}
		}
	}
}
