package static

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Range: bytes=-0 asks for the last 0 bytes: unsatisfiable (RFC 9110
// §14.1.1), 416 with "bytes */SIZE", as nginx answers. ServeContent gave
// 206, an empty body and "Content-Range: bytes 20-19/20". A zero suffix
// among satisfiable ranges is dropped; a suffix with other digits is kept.
func TestBrkRangeZeroSuffixIsUnsatisfiable(t *testing.T) {
	root, _ := staticTree(t)
	srv := httptest.NewServer(newTestStatic(t, root))
	defer srv.Close()
	get := func(file, rng string) (int, string, string) {
		req, _ := http.NewRequest("GET", srv.URL+file, nil)
		req.Header.Set("Range", rng)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Range"), string(b)
	}
	for _, file := range []string{"/static/hello.txt", "/static/big.bin"} {
		for range 2 { // the second time from the cache, where the file is small
			size := map[string]string{"/static/hello.txt": "20", "/static/big.bin": "1048576"}[file]
			for _, rng := range []string{"bytes=-0", "bytes= -000", "Bytes=-0, -0"} {
				if code, cr, _ := get(file, rng); code != http.StatusRequestedRangeNotSatisfiable || cr != "bytes */"+size {
					t.Errorf("%s Range %q: %d, Content-Range %q; want 416, bytes */%s", file, rng, code, cr, size)
				}
			}
			if code, cr, body := get(file, "bytes=-0,0-3"); code != http.StatusPartialContent || cr != "bytes 0-3/"+size || len(body) != 4 {
				t.Errorf("%s Range bytes=-0,0-3: %d, Content-Range %q, %d bytes; want 206 of bytes 0-3", file, code, cr, len(body))
			}
			if code, _, body := get(file, "bytes=-10"); code != http.StatusPartialContent || len(body) != 10 {
				t.Errorf("%s Range bytes=-10: %d, %d bytes; want 206 with 10", file, code, len(body))
			}
		}
	}
}
