package inflight

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// fastBody is a transport body with the methods the forwarder and the
// response buffering look for.
type fastBody struct {
	io.ReadCloser
	released bool
}

func (b *fastBody) Buffered() int         { return 2 }
func (b *fastBody) Whole() ([]byte, bool) { return []byte("ok"), true }
func (b *fastBody) ReleaseHead()          { b.released = true }

// The slot's wrapper passes the transport body's Buffered, Whole and
// ReleaseHead through. Without them a capped upstream's every small
// response was copied through a pool buffer (or, buffering on, into a new
// one of its size) instead of written in one piece, and its head was never
// pooled: BenchmarkProxyUwsgiInFlight, cap 16, 26 allocs and 4,396 B per
// request against 21 and 3,915 B uncapped; 22 and 3,947 B with them.
func TestSlotBodyKeepsTheTransportsShortcuts(t *testing.T) {
	q := New(1)
	if err := q.Acquire(context.Background(), time.Second); err != nil {
		t.Fatal(err)
	}
	fb := &fastBody{ReadCloser: io.NopCloser(strings.NewReader("ok"))}
	resp := &http.Response{StatusCode: 200, ContentLength: 2, Body: fb}
	q.HoldUntilBody(resp)
	if resp.Body == io.ReadCloser(fb) {
		t.Fatal("the body was not wrapped: the slot would be given back at the head")
	}
	b, ok := resp.Body.(interface {
		Buffered() int
		Whole() ([]byte, bool)
		ReleaseHead()
	})
	if !ok {
		t.Fatalf("%T hides the transport body's Buffered, Whole or ReleaseHead", resp.Body)
	}
	if n := b.Buffered(); n != 2 {
		t.Errorf("Buffered: %d", n)
	}
	if p, ok := b.Whole(); !ok || string(p) != "ok" {
		t.Errorf("Whole: %q %v", p, ok)
	}
	b.ReleaseHead()
	if !fb.released {
		t.Error("ReleaseHead did not reach the transport's body")
	}
	resp.Body.Close()
	if held, _ := q.State(); held != 0 {
		t.Errorf("%d held after Close", held)
	}
}
