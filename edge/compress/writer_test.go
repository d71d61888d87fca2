package compress

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// A stream the handler flushes reaches the client piece by piece, each one
// decodable before the next is written (server-sent events).
func TestFlushSendsWhatTheEncoderHolds(t *testing.T) {
	for _, coding := range []string{"gzip", "zstd"} {
		next := make(chan struct{})
		url := serve(t, on(), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			for i := range 3 {
				fmt.Fprintf(w, "data: event %d\n\n", i)
				w.(http.Flusher).Flush()
				select {
				case <-next:
				case <-time.After(5 * time.Second):
					return
				}
			}
		})
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Accept-Encoding", coding)
		tr := &http.Transport{DisableCompression: true}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("Content-Encoding") != coding {
			t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
		}
		var dec io.Reader
		if coding == "gzip" {
			dec, err = gzip.NewReader(resp.Body)
		} else {
			var zr *zstd.Decoder
			zr, err = zstd.NewReader(resp.Body)
			dec = zr
			defer zr.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(dec)
		for i := range 3 {
			line, err := br.ReadString('\n')
			if want := fmt.Sprintf("data: event %d\n", i); line != want || err != nil {
				t.Fatalf("%s: event %d: %q, %v", coding, i, line, err)
			}
			br.ReadString('\n')
			next <- struct{}{}
		}
		resp.Body.Close()
		tr.CloseIdleConnections()
	}
}

// The writer keeps http.Hijacker: a 101 upgrade takes the connection
// through it, as ReverseProxy does.
func TestHijackPassesThrough(t *testing.T) {
	url := serve(t, on(), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Upgrade", "echo")
		w.Header().Set("Connection", "Upgrade")
		w.WriteHeader(http.StatusSwitchingProtocols)
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer c.Close()
		line, _ := brw.ReadString('\n')
		brw.WriteString("echo " + line)
		brw.Flush()
	})
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("%v %v", resp, err)
	}
	io.WriteString(c, "hello\n")
	if line, err := br.ReadString('\n'); line != "echo hello\n" {
		t.Errorf("after the upgrade: %q, %v", line, err)
	}
}

// A handler that panics mid-body (ReverseProxy does, when the upstream is
// cut) must leave the client a broken response: no end of the compressed
// stream, no last chunk.
func TestPanicLeavesTheStreamUnended(t *testing.T) {
	for _, coding := range []string{"gzip", "zstd"} {
		url := serve(t, on(), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream") // a stream: its flush sends what the encoder holds
			w.Write(page)
			w.(http.Flusher).Flush()
			w.Write(page)
			panic(http.ErrAbortHandler)
		})
		c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: "+coding+"\r\n\r\n")
		raw, err := io.ReadAll(c)
		c.Close()
		if err != nil {
			t.Fatalf("%s: the connection did not end cleanly: %v", coding, err)
		}
		if bytes.HasSuffix(raw, []byte("0\r\n\r\n")) {
			t.Errorf("%s: the response has its last chunk", coding)
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
		if err != nil {
			t.Fatalf("%s: %v", coding, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err == nil {
			t.Errorf("%s: the chunked body read as complete", coding)
		}
		if len(body) == 0 {
			t.Fatalf("%s: nothing came before the abort", coding)
		}
		if _, err := decodeAll(coding, body); err == nil {
			t.Errorf("%s: the compressed stream is complete", coding)
		}
	}
}

func decodeAll(coding string, b []byte) ([]byte, error) {
	if coding == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(zr)
	}
	zr, err := zstd.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return io.ReadAll(zr)
}

// recorder is a ResponseWriter that tells whether ReadFrom was used.
type recorder struct {
	*httptest.ResponseRecorder
	readFrom bool
}

func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	r.readFrom = true
	return io.Copy(r.ResponseRecorder, src)
}

// A body that passes untouched reaches the writer below through its
// ReadFrom (sendfile, for a file); a compressed one through the encoder.
func TestReadFromKeepsSendfile(t *testing.T) {
	for ae, passes := range map[string]bool{"": true, "gzip": false} {
		h := New(on(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/css")
			w.Header().Set("Content-Length", fmt.Sprint(len(page)))
			w.WriteHeader(200)
			io.Copy(w, &io.LimitedReader{R: bytes.NewReader(page), N: int64(len(page))})
		}))
		rec := &recorder{ResponseRecorder: httptest.NewRecorder()}
		req := httptest.NewRequest("GET", "/", nil)
		if ae != "" {
			req.Header.Set("Accept-Encoding", ae)
		}
		h.ServeHTTP(rec, req)
		if rec.readFrom != passes {
			t.Errorf("Accept-Encoding %q: ReadFrom used %v, want %v", ae, rec.readFrom, passes)
		}
		if got := decode(t, rec.Header().Get("Content-Encoding"), rec.Body.Bytes()); !bytes.Equal(got, page) {
			t.Errorf("Accept-Encoding %q: the body differs", ae)
		}
	}
}

// nopWriter is a ResponseWriter that keeps nothing, for counting
// allocations.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nopWriter) WriteHeader(int)             {}

// A response that is not compressed costs no allocation: a small hello,
// or a page for a client that accepts no coding.
func TestPassingDoesNotAllocate(t *testing.T) {
	small := []byte("Hello, world!\n")
	for _, tc := range []struct {
		name string
		ae   []string
		body []byte
	}{{"small", []string{"gzip, deflate, br, zstd"}, small}, {"no Accept-Encoding", nil, page}} {
		hdr := http.Header{}
		length, typ := []string{fmt.Sprint(len(tc.body))}, []string{"text/plain"}
		h := New(on(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h["Content-Type"] = typ
			h["Content-Length"] = length
			w.WriteHeader(200)
			w.Write(tc.body)
		}))
		req := httptest.NewRequest("GET", "/", nil)
		req.Header["Accept-Encoding"] = tc.ae
		w := &nopWriter{h: hdr}
		if n := testing.AllocsPerRun(200, func() {
			clear(hdr)
			h.ServeHTTP(w, req)
		}); n != 0 {
			t.Errorf("%s: %v allocations per response", tc.name, n)
		}
	}
}

// The same, seen right below the wrapper (net/http's own buffer would
// hide a trailer written after the panic): nothing is written once the
// handler panics, so the stream the client has is unended.
func TestPanicWritesNoEnd(t *testing.T) {
	for _, coding := range []string{"gzip", "zstd"} {
		h := New(on(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream") // a stream: its flush sends what the encoder holds
			w.Write(page)
			w.(http.Flusher).Flush()
			w.Write(page)
			panic(http.ErrAbortHandler)
		}))
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Accept-Encoding", coding)
		func() {
			defer func() {
				if p := recover(); p != http.ErrAbortHandler {
					t.Errorf("%s: recovered %v", coding, p)
				}
			}()
			h.ServeHTTP(rec, req)
		}()
		if rec.Body.Len() == 0 {
			t.Fatalf("%s: nothing written before the panic", coding)
		}
		if got, err := decodeAll(coding, rec.Body.Bytes()); err == nil {
			t.Errorf("%s: the stream below the wrapper is complete (%d bytes)", coding, len(got))
		}
	}
}
