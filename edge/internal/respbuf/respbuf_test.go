package respbuf

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// testSource is an upstream body: data, then err (io.EOF when nil).
type testSource struct {
	r      io.Reader
	err    error
	closed atomic.Bool
}

func (s *testSource) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.EOF && s.err != nil {
		err = s.err
	}
	return n, err
}

func (s *testSource) Close() error { s.closed.Store(true); return nil }

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

func buffered(t *testing.T, policy Policy, src *testSource, contentLength int64, header http.Header) *http.Response {
	t.Helper()
	if header == nil {
		header = http.Header{}
	}
	resp := &http.Response{StatusCode: 200, Header: header, Body: src, ContentLength: contentLength}
	if err := policy.ModifyResponse(resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

func waitClosed(t *testing.T, src *testSource) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !src.closed.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the upstream body was not read to its end and closed")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestResponseBufferFreesTheUpstreamBeforeTheClientReads(t *testing.T) {
	want := pattern(300 << 10)
	src := &testSource{r: bytes.NewReader(want)}
	policy := Policy{On: true, Mem: 64 << 10, MaxFile: 1 << 30, TempDir: t.TempDir()}
	resp := buffered(t, policy, src, -1, nil)
	waitClosed(t, src) // before a byte was read: memory, then the file
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, %v; want the %d sent", len(got), err, len(want))
	}
}

func TestResponseBufferPassesThroughWhenFull(t *testing.T) {
	want := pattern(300 << 10)
	src := &testSource{r: bytes.NewReader(want)}
	policy := Policy{On: true, Mem: 64 << 10, MaxFile: 0}
	resp := buffered(t, policy, src, -1, nil)
	time.Sleep(50 * time.Millisecond)
	if src.closed.Load() {
		t.Fatal("the upstream was read to the end with no room for it")
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(got, want) || !src.closed.Load() {
		t.Fatalf("read %d bytes, %v, closed %v", len(got), err, src.closed.Load())
	}
}

// A body that ends early still ends with its error after what came, so
// the client's response is aborted, from memory, file or small path alike.
func TestResponseBufferKeepsTheUpstreamError(t *testing.T) {
	for _, c := range []struct {
		size int
		cl   int64
	}{{1000, 2000}, {1000, -1}, {200 << 10, -1}} {
		src := &testSource{r: bytes.NewReader(pattern(c.size)), err: io.ErrUnexpectedEOF}
		policy := Policy{On: true, Mem: 64 << 10, MaxFile: 1 << 30, TempDir: t.TempDir()}
		resp := buffered(t, policy, src, c.cl, nil)
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(got) != c.size || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("size %d, Content-Length %d: read %d bytes then %v, want all then the upstream's error", c.size, c.cl, len(got), err)
		}
	}
}

func TestXAccelBufferingNo(t *testing.T) {
	src := &testSource{r: bytes.NewReader(pattern(100 << 10))}
	policy := Policy{On: true, Mem: 64 << 10, MaxFile: 1 << 30}
	resp := buffered(t, policy, src, -1, http.Header{"X-Accel-Buffering": {"no"}})
	if resp.Body != src || resp.Header.Get("X-Accel-Buffering") != "" {
		t.Errorf("buffered anyway (%T), or the header was passed on: %v", resp.Body, resp.Header)
	}
	resp = buffered(t, Policy{On: false, Mem: 64 << 10}, src, -1, nil)
	if resp.Body != src {
		t.Errorf("buffering: false buffered (%T)", resp.Body)
	}
}

// A temporary file that cannot be written (a full disk, a temp directory
// removed under the edge) must not cost the client its response: the
// edge stops buffering and passes the rest at the client's pace, as past
// max_temp_file_size.
func TestResponseBufferPassesThroughWhenTheFileFails(t *testing.T) {
	for _, size := range []int{300 << 10, 64<<10 + 100} {
		want := pattern(size)
		src := &testSource{r: bytes.NewReader(want)}
		policy := Policy{On: true, Mem: 64 << 10, MaxFile: 1 << 30, TempDir: t.TempDir() + "/missing"}
		resp := buffered(t, policy, src, -1, nil)
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(got, want) || !src.closed.Load() {
			t.Errorf("%d bytes: read %d, %v, upstream closed %v; want all of it", size, len(got), err, src.closed.Load())
		}
	}
}
