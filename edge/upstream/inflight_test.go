package upstream

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A wait ends at queue_timeout with a 503 (the app server's own answer to
// a request that queued that long), else at read_timeout with a 504; the
// message says where the request waited.
func TestInFlightWaitIsBounded(t *testing.T) {
	for _, c := range []struct {
		queue  time.Duration
		status int
		msg    string
	}{
		{50 * time.Millisecond, http.StatusServiceUnavailable, "queue_timeout (50ms) fired waiting in the edge for one of the 1 requests in flight to unix:app.sock"},
		{0, http.StatusGatewayTimeout, "read_timeout (60ms) fired waiting in the edge for one of the 1 requests in flight to unix:app.sock"},
	} {
		cfg := Default()
		cfg.MaxInFlight = 1
		cfg.Servers = []string{"unix:app.sock"}
		cfg.ReadTimeout, cfg.QueueTimeout = 60*time.Millisecond, c.queue
		u, err := New("app", cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := u.servers[0]
		if err := u.acquireSlot(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		err = u.acquireSlot(context.Background(), s)
		q := s.slots
		if err == nil || Status(err) != c.status || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("queue_timeout %v: %v (status %d), want %d and %q", c.queue, err, Status(err), c.status, c.msg)
		}
		if held, waiting := q.State(); held != 1 || waiting != 0 {
			t.Errorf("after the timeout: %d held, %d waiting; want 1, 0", held, waiting)
		}
	}
}

// In a Group, a response of known length keeps its slot until its body is
// closed (its connection goes back to the pool then); a streamed or
// switched one gives it back at once, so that an SSE stream or a WebSocket
// does not hold a slot for its life.
func TestInFlightSlotsOfResponses(t *testing.T) {
	cfg := Default()
	cfg.MaxInFlight = 1
	cfg.ReadTimeout = 50 * time.Millisecond
	u, _ := testUpstream(t, cfg, io.Discard, nil)
	q := u.servers[0].slots
	for _, c := range []struct {
		name  string
		resp  func() *http.Response
		holds bool
	}{
		{"known length", func() *http.Response {
			return &http.Response{StatusCode: 200, ContentLength: 2, Body: io.NopCloser(strings.NewReader("ok"))}
		}, true},
		{"streamed", func() *http.Response {
			return &http.Response{StatusCode: 200, ContentLength: -1, Body: io.NopCloser(strings.NewReader("ok"))}
		}, false},
		{"switched", func() *http.Response {
			return &http.Response{StatusCode: http.StatusSwitchingProtocols, ContentLength: -1, Body: io.NopCloser(strings.NewReader(""))}
		}, false},
		{"no body", func() *http.Response { return &http.Response{StatusCode: 204, Body: http.NoBody} }, false},
	} {
		u.servers[0].rt = roundTripFunc(func(*http.Request) (*http.Response, error) { return c.resp(), nil })
		resp, err := u.RoundTrip(httptest.NewRequest("GET", "/", nil))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if held, _ := q.State(); (held == 1) != c.holds {
			t.Errorf("%s: %d slots held with the body open", c.name, held)
		}
		resp.Body.Close()
		resp.Body.Close() // twice gives back one slot
		if held, waiting := q.State(); held != 0 || waiting != 0 {
			t.Errorf("%s: %d held, %d waiting after the body was closed", c.name, held, waiting)
		}
	}
	// A failed attempt gives its slot back too.
	u.servers[0].rt = roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, reset })
	if _, err := u.RoundTrip(httptest.NewRequest("POST", "/", nil)); err == nil {
		t.Fatal("no error")
	}
	if held, _ := q.State(); held != 0 {
		t.Errorf("%d held after a failed attempt", held)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The cap's cost on a request that finds a slot free (acquire, the body
// wrapper, release at Close), against none.
func BenchmarkGroupRoundTripInFlight(b *testing.B) {
	for _, n := range []int{0, 16} {
		b.Run(fmt.Sprintf("cap=%d", n), func(b *testing.B) {
			cfg := Default()
			cfg.MaxInFlight = n
			cfg.Servers = []string{"unix:s.sock"}
			u, err := New("app", cfg, nil)
			if err != nil {
				b.Fatal(err)
			}
			u.servers[0].rt = roundTripFunc(func(*http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: 200, ContentLength: 2, Body: emptyBody{}}, nil
			})
			req := httptest.NewRequest("GET", "/", nil)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := u.RoundTrip(req)
					if err != nil {
						b.Fatal(err)
					}
					resp.Body.Close()
				}
			})
		})
	}
}

// emptyBody is a response body that a benchmark can return without an
// allocation (http.NoBody is given its slot back at the head).
type emptyBody struct{}

func (emptyBody) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyBody) Close() error             { return nil }
