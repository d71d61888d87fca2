package compress

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// page is a body worth compressing.
var page = bytes.Repeat([]byte("<p>The quick brown fox jumps over the lazy dog.</p>\n"), 200)

func serve(t *testing.T, c Config, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(New(c, h))
	t.Cleanup(srv.Close)
	return srv.URL
}

func on() Config { c := DefaultConfig(); c.Gzip, c.Zstd = true, true; return c }

// fetch sends a request with the given headers ("Name: value" pairs) and
// returns the response with its raw (still encoded) body read.
func fetch(t *testing.T, method, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for _, h := range hdr {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return resp, body
}

func decode(t *testing.T, coding string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch coding {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("zstd: %v", err)
		}
		defer zr.Close()
		r = zr
	case "":
		return b
	default:
		t.Fatalf("unexpected coding %q", coding)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decoding %s: %v", coding, err)
	}
	return out
}

func pageHandler(cl bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("ETag", `"v1"`)
		h.Set("Accept-Ranges", "bytes")
		if cl {
			h.Set("Content-Length", fmt.Sprint(len(page)))
		}
		for b := page; len(b) > 0; b = b[min(1000, len(b)):] { // several writes
			w.Write(b[:min(1000, len(b))])
		}
	}
}

func TestCompressesWhatTheClientAccepts(t *testing.T) {
	for _, cl := range []bool{true, false} {
		url := serve(t, on(), pageHandler(cl))
		for ae, want := range map[string]string{"gzip": "gzip", "gzip, zstd": "zstd", "zstd;q=0.5, gzip": "gzip", "br": "", "": ""} {
			resp, body := fetch(t, "GET", url, "Accept-Encoding: "+ae)
			h := resp.Header
			if got := h.Get("Content-Encoding"); got != want {
				t.Errorf("length known %v, %q: Content-Encoding %q, want %q", cl, ae, got, want)
				continue
			}
			if !bytes.Equal(decode(t, want, body), page) {
				t.Errorf("length known %v, %q: the decoded body differs", cl, ae)
			}
			if h.Get("Vary") != "Accept-Encoding" {
				t.Errorf("length known %v, %q: Vary %q", cl, ae, h.Get("Vary"))
			}
			if want == "" {
				if h.Get("ETag") != `"v1"` || (cl && resp.ContentLength != int64(len(page))) || h.Get("Accept-Ranges") != "bytes" {
					t.Errorf("%q: the identity answer changed: %v", ae, h)
				}
				continue
			}
			if h.Get("ETag") != `W/"v1"` || (resp.ContentLength != -1 && resp.ContentLength != int64(len(body))) || h.Get("Accept-Ranges") != "" || len(body) >= len(page)/4 {
				t.Errorf("%q: ETag %q, length %d, Accept-Ranges %q, %d bytes", ae, h.Get("ETag"), resp.ContentLength, h.Get("Accept-Ranges"), len(body))
			}
		}
	}
}

// What must pass untouched: no Content-Encoding, the header as the handler
// wrote it, the body byte for byte.
func TestLeavesAlone(t *testing.T) {
	for _, tc := range []struct {
		name    string
		method  string
		reqHdr  []string
		status  int
		hdr     map[string]string
		body    []byte
		vary    bool // Vary: Accept-Encoding expected
		wantLen int  // Content-Length expected, -1 none
	}{
		{name: "HEAD", method: "HEAD", hdr: map[string]string{"Content-Length": "10400"}, wantLen: 10400},
		{name: "Range", reqHdr: []string{"Range: bytes=0-99"}, status: 206, hdr: map[string]string{"Content-Range": "bytes 0-99/10400", "Content-Length": "100"}, body: page[:100], wantLen: 100},
		{name: "Range answered whole", reqHdr: []string{"Range: bytes=0-99"}, body: page, vary: true, wantLen: -1},
		{name: "206 without Range", status: 206, hdr: map[string]string{"Content-Range": "bytes 0-299/10400", "Content-Length": "300"}, body: page[:300], wantLen: 300},
		{name: "304", status: 304, hdr: map[string]string{"Content-Length": ""}, wantLen: -1},
		{name: "204", status: 204, hdr: map[string]string{"Content-Length": ""}, wantLen: -1},
		{name: "small by length", hdr: map[string]string{"Content-Length": "255"}, body: page[:255], wantLen: 255},
		{name: "small by holding", body: page[:255], vary: true, wantLen: 255},
		{name: "empty", vary: true, wantLen: 0},
		{name: "already encoded", hdr: map[string]string{"Content-Encoding": "br"}, body: page, wantLen: -1},
		{name: "no-transform", hdr: map[string]string{"Cache-Control": "public, No-Transform"}, body: page, wantLen: -1},
		{name: "image", hdr: map[string]string{"Content-Type": "image/png"}, body: page, wantLen: -1},
		{name: "no type", hdr: map[string]string{"Content-Type": ""}, body: page, wantLen: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := serve(t, on(), func(w http.ResponseWriter, r *http.Request) {
				h := w.Header()
				h.Set("Content-Type", "text/html")
				h.Set("ETag", `"v1"`)
				for k, v := range tc.hdr {
					if v == "" {
						delete(h, k)
					} else {
						h.Set(k, v)
					}
				}
				if k, ok := tc.hdr["Content-Type"]; ok && k == "" {
					h["Content-Type"] = nil // no sniffing either
				}
				w.WriteHeader(max(tc.status, 200))
				w.Write(tc.body)
			})
			method := tc.method
			if method == "" {
				method = "GET"
			}
			resp, body := fetch(t, method, url, append(tc.reqHdr, "Accept-Encoding: gzip, zstd")...)
			h := resp.Header
			if h.Get("Content-Encoding") != tc.hdr["Content-Encoding"] || h.Get("ETag") != `"v1"` || !bytes.Equal(body, tc.body) {
				t.Errorf("Content-Encoding %q, ETag %q, %d bytes: changed", h.Get("Content-Encoding"), h.Get("ETag"), len(body))
			}
			if got := h.Get("Vary") == "Accept-Encoding"; got != tc.vary {
				t.Errorf("Vary %q, want it %v", h.Get("Vary"), tc.vary)
			}
			if tc.wantLen >= 0 && resp.ContentLength != int64(tc.wantLen) {
				t.Errorf("Content-Length %d, want %d", resp.ContentLength, tc.wantLen)
			}
		})
	}
}

func TestVaryIsMerged(t *testing.T) {
	for vary, want := range map[string]string{"Cookie": "Cookie, Accept-Encoding", "cookie, accept-encoding": "cookie, accept-encoding", "*": "*"} {
		url := serve(t, on(), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Vary", vary)
			w.Write(page)
		})
		resp, _ := fetch(t, "GET", url, "Accept-Encoding: gzip")
		if got := strings.Join(resp.Header.Values("Vary"), ", "); got != want || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("Vary %q → %q, want %q", vary, got, want)
		}
	}
}

func TestTypes(t *testing.T) {
	h := New(on(), nil)
	for ct, want := range map[string]bool{
		"text/html": true, "text/html; charset=utf-8": true, "TEXT/CSS": true, "text/event-stream": true,
		"application/json": true, "application/javascript": true, "image/svg+xml": true,
		"application/jsonx": false, "text": false, "text/": false, "image/png": false, "application/octet-stream": false, "": false,
	} {
		if got := h.types.listed(ct); got != want {
			t.Errorf("%q listed: %v, want %v", ct, got, want)
		}
	}
}
