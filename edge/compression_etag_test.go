package edge_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A 304 to a revalidation of the compressed variant carries the ETag that
// variant's 200 carried (W/"x", the file's "x" made weak) and its Vary: it
// said "x" and no Vary, so the client's stored copy got a validator no 200
// of it had. A client that holds the identity variant keeps "x".
func TestEdgeCompressedVariantRevalidatesWithItsOwnETag(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "page.html"), []byte(compressPage), 0o644); err != nil {
		t.Fatal(err)
	}
	_, base := runEdge(t, compressConfig(startApp(t, http.HandlerFunc(echoHandler)), dir))
	url := base + "/static/page.html"
	get := func(ae, inm string) *http.Response {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Accept-Encoding", ae)
		if inm != "" {
			req.Header.Set("If-None-Match", inm)
		}
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, ae := range []string{"gzip", "zstd"} {
		first := get(ae, "")
		etag := first.Header.Get("ETag")
		if first.StatusCode != 200 || first.Header.Get("Content-Encoding") != ae || !strings.HasPrefix(etag, `W/"`) {
			t.Fatalf("%s: %d, Content-Encoding %q, ETag %q; want 200, %s and a weak ETag", ae, first.StatusCode, first.Header.Get("Content-Encoding"), etag, ae)
		}
		again := get(ae, etag)
		if again.StatusCode != 304 || again.Header.Get("ETag") != etag || again.Header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("%s, If-None-Match %s: %d, ETag %q, Vary %q; want 304, the same ETag and Vary: Accept-Encoding",
				ae, etag, again.StatusCode, again.Header.Get("ETag"), again.Header.Get("Vary"))
		}
		strong := strings.TrimPrefix(etag, "W/")
		if plain := get("identity", strong); plain.StatusCode != 304 || plain.Header.Get("ETag") != strong {
			t.Errorf("identity, If-None-Match %s: %d, ETag %q; want 304 and the strong ETag", strong, plain.StatusCode, plain.Header.Get("ETag"))
		}
	}
}
