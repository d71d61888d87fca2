package transport

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// A response of known length that has all arrived is handed over whole,
// as it lies in the transport's buffer (no copy by the response buffering,
// one write to the client), and counts as read: the kept connection goes
// back to the pool. One whose body is still coming is not.
func TestWholeBodyIsHandedOverAndTheConnectionKept(t *testing.T) {
	f := startFakeUwsgi(t, true, 1000)
	rt := keptTransport(f.sock)
	defer rt.CloseIdleConnections()
	for i, path := range []string{"/whole-1", "/whole-2", "/whole-3"} {
		req, _ := http.NewRequest("GET", "http://app"+path, nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		// The fake server writes head and body at once: give them a
		// moment to be both in the buffer.
		wb := resp.Body.(interface {
			Whole() ([]byte, bool)
			Buffered() int
		})
		deadline := time.Now().Add(2 * time.Second)
		for int64(wb.Buffered()) < resp.ContentLength && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		p, ok := wb.Whole()
		if !ok || string(p) != path {
			t.Fatalf("request %d: Whole = %q, %v; want %q", i, p, ok, path)
		}
		if n, err := resp.Body.Read(make([]byte, 8)); n != 0 || err != io.EOF {
			t.Fatalf("request %d: a read after Whole: %d, %v; want 0, EOF", i, n, err)
		}
		resp.Body.Close()
	}
	if n := f.accepted.Load(); n != 1 {
		t.Errorf("3 requests read with Whole took %d connections, want 1 (kept)", n)
	}

	// A body that ends at the close and is still coming is no whole body.
	rt2 := keptTransport(closingUwsgi(t, 200*time.Millisecond))
	req, _ := http.NewRequest("GET", "http://app/", nil)
	resp, err := rt2.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if p, ok := resp.Body.(interface{ Whole() ([]byte, bool) }).Whole(); ok {
		t.Errorf("a body still coming was handed over whole: %q", p)
	}
	if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "<h1>Hello, web!</h1>" {
		t.Errorf("then read: %q, %v", b, err)
	}
}

// A response's header map, given back by ReleaseHead, carries nothing into
// the next response that takes it; a released response's Header is nil.
func TestReleasedHeaderMapCarriesNothingOver(t *testing.T) {
	f := startFakeUwsgi(t, true, 1000)
	rt := keptTransport(f.sock)
	defer rt.CloseIdleConnections()
	for i, path := range []string{"/a", "/chunked", "/b"} {
		req, _ := http.NewRequest("GET", "http://app"+path, nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := resp.Header["X-Left-Over"]; ok {
			t.Fatalf("response %d has the field a released map held: %v", i, resp.Header)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Header["X-Left-Over"] = []string{"1"} // as a forwarder's edits
		resp.Body.(interface{ ReleaseHead() }).ReleaseHead()
		if resp.Header != nil {
			t.Fatalf("response %d: Header after ReleaseHead = %v, want nil", i, resp.Header)
		}
	}
}
