package upstream

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stack-web/stack/edge/upstream/transport"
)

func TestParseServers(t *testing.T) {
	got, err := parseServers([]string{"unix:run/a.sock weight=3", "10.0.0.2:3031", "backup", "unix:b.sock backup"})
	if err != nil {
		t.Fatal(err)
	}
	want := []serverSpec{{"unix:run/a.sock", 3, false}, {"10.0.0.2:3031", 1, true}, {"unix:b.sock", 1, true}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range [][]string{{"weight=2 unix:a"}, {"unix:a weight=0"}, {"unix:a weight=x"}, {"unix:a backup"}, {"nohost"}, {""}} {
		if _, err := parseServers(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func testServers(weights ...int) []*upstreamServer {
	var out []*upstreamServer
	for i, w := range weights {
		out = append(out, &upstreamServer{addr: string(rune('a' + i)), weight: w})
	}
	return out
}

func all(int) bool { return true }

func TestRoundRobinIsSmoothAndWeighted(t *testing.T) {
	b := balancer{mode: "round_robin", servers: testServers(5, 1, 1)}
	var seq string
	for range 14 {
		seq += b.servers[b.pick("", all)].addr
	}
	if seq != "aabacaaaabacaa" {
		t.Errorf("weights 5,1,1 gave %s, want nginx's aabacaa twice", seq)
	}
}

func TestBackupOnlyWhenNoPrimaryIsAvailable(t *testing.T) {
	s := testServers(1, 1, 1)
	s[2].backup = true
	b := balancer{mode: "round_robin", servers: s}
	for range 6 {
		if i := b.pick("", all); i == 2 {
			t.Fatal("picked the backup with primaries up")
		}
	}
	if i := b.pick("", func(i int) bool { return i == 2 }); i != 2 {
		t.Errorf("picked %d with only the backup available", i)
	}
}

func TestLeastConnPicksTheLeastLoaded(t *testing.T) {
	b := balancer{mode: "least_conn", servers: testServers(1, 1, 2)}
	b.servers[0].active.Store(3)
	b.servers[1].active.Store(1)
	b.servers[2].active.Store(3) // weight 2: 1.5 per weight
	if i := b.pick("", all); i != 1 {
		t.Errorf("picked %d, want 1", i)
	}
	b.servers[1].active.Store(2)
	if i := b.pick("", all); i != 2 {
		t.Errorf("picked %d, want 2 (weighted)", i)
	}
}

func TestIPHashKeepsAClientOnOneServer(t *testing.T) {
	b := balancer{mode: "ip_hash", servers: testServers(1, 1, 1)}
	first := b.pick("192.0.2.7:1111", all)
	for port := range 10 {
		if i := b.pick(fmt.Sprintf("192.0.2.7:%d", 2000+port), all); i != first {
			t.Fatalf("the same client went to %d, then %d", first, i)
		}
	}
	if i := b.pick("192.0.2.7:1", func(i int) bool { return i != first }); i == first || i < 0 {
		t.Errorf("with its server down the client got %d", i)
	}
	seen := map[int]bool{}
	for c := range 50 {
		seen[b.pick(fmt.Sprintf("198.51.100.%d:80", c), all)] = true
	}
	if len(seen) != 3 {
		t.Errorf("50 clients reached %d servers, want all 3", len(seen))
	}
}

// fakeRT answers from a script, one entry per call, and records the body
// each call read.
type fakeRT struct {
	mu     sync.Mutex
	script []error // nil: 200
	calls  int
	bodies []string
}

func (f *fakeRT) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var body string
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		req.Body.Close()
		body = string(b)
	}
	f.bodies = append(f.bodies, body)
	var err error
	if f.calls < len(f.script) {
		err = f.script[f.calls]
	}
	f.calls++
	if err != nil {
		return nil, err
	}
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("ok")), Header: http.Header{}}, nil
}

func testUpstream(t *testing.T, cfg Config, log io.Writer, scripts ...[]error) (*Group, []*fakeRT) {
	t.Helper()
	for i := range scripts {
		cfg.Servers = append(cfg.Servers, fmt.Sprintf("unix:s%d.sock", i))
	}
	u, err := New("app", cfg, slog.New(slog.NewTextHandler(log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var fakes []*fakeRT
	for i, s := range scripts {
		f := &fakeRT{script: s}
		u.servers[i].rt = f
		fakes = append(fakes, f)
	}
	return u, fakes
}

var (
	reset   = fmt.Errorf("reading response header: %w", syscall.ECONNRESET)
	refused = &transport.DialError{Err: syscall.ECONNREFUSED}
	full    = &transport.DialError{Err: syscall.EAGAIN}
	timeout = &transport.TimeoutError{Err: os.ErrDeadlineExceeded}
)

func TestRetryDecisions(t *testing.T) {
	cfg := Default()
	cfg.MaxFails = 0
	cfg.RetryTimeout = time.Millisecond
	cfg.ConnectTimeout = 50 * time.Millisecond
	cases := []struct {
		name    string
		method  string
		retries int
		servers [][]error
		calls   []int // per server
		want    string
	}{
		{"GET reset goes to the next server", "GET", 1, [][]error{{reset}, {}}, []int{1, 1}, "ok"},
		{"POST reset is 502, never re-sent", "POST", 1, [][]error{{reset}, {}}, []int{1, 0}, "reset"},
		{"POST that could not connect goes on", "POST", 1, [][]error{{refused}, {}}, []int{1, 1}, "ok"},
		{"no response at all counts as reset", "DELETE", 1, [][]error{{transport.ErrNoResponse}, {}}, []int{1, 1}, "ok"},
		{"a timeout is not retried", "GET", 1, [][]error{{timeout}, {}}, []int{1, 0}, "timed out"},
		{"one server: again after a pause", "GET", 1, [][]error{{reset, nil}}, []int{2}, "ok"},
		{"retries: 0", "GET", 0, [][]error{{reset}, {}}, []int{1, 0}, "reset"},
		{"retries are counted", "PUT", 1, [][]error{{reset}, {reset}, {}}, []int{1, 1, 0}, "reset"},
		{"every server down, tried once more", "GET", 1, [][]error{{refused, nil}, {refused, nil}}, nil, "ok"},
		{"full queues are 503", "GET", 0, [][]error{{full, full, full, full, full, full, full, full, full, full}}, nil, "busy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := cfg
			cfg.Retries = c.retries
			u, fakes := testUpstream(t, cfg, io.Discard, c.servers...)
			req := httptest.NewRequest(c.method, "/", nil)
			resp, err := u.RoundTrip(req)
			got := "ok"
			if err != nil {
				got = err.Error()
				var be *busyError
				if errors.As(err, &be) {
					got = "busy"
				}
			} else {
				resp.Body.Close()
			}
			if !strings.Contains(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
			for i, n := range c.calls {
				if fakes[i].calls != n {
					t.Errorf("server %d called %d times, want %d", i, fakes[i].calls, n)
				}
			}
		})
	}
}

// memBody is a BufferedBody held in memory that counts its open readers.
type memBody struct {
	*strings.Reader
	data string
	open *atomic.Int32
}

func newMemBody(s string) *memBody {
	b := &memBody{Reader: strings.NewReader(s), data: s, open: new(atomic.Int32)}
	b.open.Add(1)
	return b
}

func (b *memBody) Clone() BufferedBody {
	b.open.Add(1)
	return &memBody{Reader: strings.NewReader(b.data), data: b.data, open: b.open}
}
func (b *memBody) InMemory() ([]byte, bool) { return []byte(b.data), true }
func (b *memBody) Close() error             { b.open.Add(-1); return nil }

// Every attempt reads the whole body, from a reader of its own, and every
// reader is closed. (The edge's own buffered body, from memory or from a
// file, is tested against a Group in edge's TestEachAttemptGetsTheWholeBody.)
func TestEachAttemptGetsItsOwnBody(t *testing.T) {
	cfg := Default()
	cfg.MaxFails = 0
	u, fakes := testUpstream(t, cfg, io.Discard, []error{refused}, []error{refused}, nil)
	want := strings.Repeat("b", 1000)
	body := newMemBody(want)
	r := httptest.NewRequest("POST", "/", nil)
	r.Body, r.ContentLength = body, int64(len(want))
	resp, err := u.RoundTrip(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	body.Close()
	for i, f := range fakes {
		if len(f.bodies) != 1 || f.bodies[0] != want {
			t.Errorf("server %d read %d bodies, first of %d bytes", i, len(f.bodies), len(f.bodies[0]))
		}
	}
	if n := body.open.Load(); n != 0 {
		t.Errorf("%d readers of the body left open", n)
	}
}

func TestPassiveHealthIsLogged(t *testing.T) {
	cfg := Default()
	cfg.FailTimeout = time.Hour
	var log bytes.Buffer
	u, fakes := testUpstream(t, cfg, &log, []error{refused}, nil)
	for range 4 {
		if _, err := u.RoundTrip(httptest.NewRequest("GET", "/", nil)); err != nil {
			t.Fatal(err)
		}
	}
	if fakes[0].calls != 1 || fakes[1].calls != 4 {
		t.Errorf("calls %d, %d: a server marked down was tried again", fakes[0].calls, fakes[1].calls)
	}
	if !strings.Contains(log.String(), `msg="edge: upstream server marked down" upstream=app server=unix:s0.sock`) {
		t.Errorf("log:\n%s", log.String())
	}
	u.servers[0].downUntil.Store(1) // its fail_timeout has passed
	u.bal.servers[1].current = -100 // and it is its turn
	if _, err := u.RoundTrip(httptest.NewRequest("GET", "/", nil)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), `msg="edge: upstream server is up again" upstream=app server=unix:s0.sock`) {
		t.Errorf("log:\n%s", log.String())
	}
}

// least_conn sees a request as in flight until its response body is closed.
func TestLeastConnCountsOpenResponses(t *testing.T) {
	cfg := Default()
	cfg.Balance = "least_conn"
	u, fakes := testUpstream(t, cfg, io.Discard, nil, nil)
	first, err := u.RoundTrip(httptest.NewRequest("GET", "/", nil))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // the first server is busy: each goes to the second
		resp, err := u.RoundTrip(httptest.NewRequest("GET", "/", nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if fakes[0].calls+fakes[1].calls != 4 || (fakes[0].calls != 1 && fakes[1].calls != 1) {
		t.Errorf("calls %d, %d: the busy server got more", fakes[0].calls, fakes[1].calls)
	}
	first.Body.Close()
	first.Body.Close() // twice is harmless
	if a, b := u.servers[0].active.Load(), u.servers[1].active.Load(); a != 0 || b != 0 {
		t.Errorf("in flight after every body was closed: %d, %d", a, b)
	}
}
