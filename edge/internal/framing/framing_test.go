package framing

import (
	"math/rand/v2"
	"net"
	"strings"
	"testing"
)

// testGuard has the edge's headGuard's limits: the request line's is a
// quarter of the head's.
type testGuard struct{ head int }

func (g testGuard) Limits() (head, line int) { return g.head, g.head / 4 }

func (testGuard) RefusedByServer(net.Conn, string, int, int64) {}

func TestFramingTracker(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want []Verdict
	}{
		{"simple GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", []Verdict{OK}},
		{"pipelined with a Content-Length body that looks like a head",
			"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 66\r\n\r\n" +
				"GET /x HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n" +
				"GET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
			[]Verdict{OK, OK}},
		{"chunked body with extensions and trailers",
			"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
				"5;ext=1\r\nhello\r\n3\r\na\nb\r\n0\r\nX-Trailer: 1\r\n\r\n" +
				"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
			[]Verdict{OK, OK}},
		{"CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []Verdict{CLandTE}},
		{"TE and CL, mixed case", "POST / HTTP/1.1\r\ntransfer-ENCODING: chunked\r\ncontent-length: 4\r\n\r\n0\r\n\r\n", []Verdict{CLandTE}},
		{"duplicate equal CL", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", []Verdict{DuplicateCL}},
		{"TE on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\nx", []Verdict{TEonHTTP10}},
		{"leading empty line", "\r\nGET / HTTP/1.1\r\n\r\n", []Verdict{OK}},
		{"bare LF line ends", "GET / HTTP/1.1\nHost: a\n\nGET / HTTP/1.1\nContent-Length: 0\nContent-Length: 0\n\n", []Verdict{OK, DuplicateCL}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Whatever the read boundaries, the verdicts are the same.
			for trial := range 50 {
				c := NewConn(nil, nil, nil)
				b := []byte(tt.raw)
				r := rand.New(rand.NewPCG(uint64(trial), 1))
				for len(b) > 0 {
					n := 1 + r.IntN(len(b))
					if trial == 0 {
						n = len(b)
					}
					c.track(b[:n])
					b = b[n:]
				}
				if c.state == lost {
					t.Fatalf("trial %d: tracker lost the framing", trial)
				}
				var got []Verdict
				for range len(c.verdicts) {
					got = append(got, c.next())
				}
				if len(got) != len(tt.want) {
					t.Fatalf("trial %d: verdicts %v, want %v", trial, got, tt.want)
				}
				for i := range got {
					if got[i] != tt.want[i] {
						t.Fatalf("trial %d: verdict %d = %v, want %v", trial, i, got[i], tt.want[i])
					}
				}
			}
		})
	}
}

func TestFramingTrackerGivesUpSafely(t *testing.T) {
	c := NewConn(nil, nil, nil)
	c.track([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"))
	if c.state != lost {
		t.Fatalf("bad chunk size: state %v, want lost", c.state)
	}
	c.track([]byte("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n"))
	c.next()
	if v := c.next(); v != OK {
		t.Errorf("after losing track, verdict %v, want ok", v)
	}
}

// The head limits count the same bytes whatever the read boundaries, and
// a line too long to keep is counted, not lost.
func TestFramingTrackerHeadLimits(t *testing.T) {
	g := testGuard{200} // the request line's limit is a quarter: 50
	pad := func(n int) string { return strings.Repeat("p", n) }
	head := func(n int) string { // a GET head of exactly n bytes
		s := "GET / HTTP/1.1\r\nX: "
		return s + pad(n-len(s)-4) + "\r\n\r\n"
	}
	tests := []struct {
		name string
		raw  string
		want []Verdict
	}{
		{"at the limit, twice", head(200) + head(200), []Verdict{OK, OK}},
		{"one over", head(201), []Verdict{HeadTooLarge}},
		{"leading empty lines do not count", "\r\n\n\r\n" + head(200), []Verdict{OK}},
		{"request line at its limit", "GET /" + pad(50-len("GET / HTTP/1.1\r\n")) + " HTTP/1.1\r\n\r\n", []Verdict{OK}},
		{"request line one over", "GET /" + pad(51-len("GET / HTTP/1.1\r\n")) + " HTTP/1.1\r\n\r\n", []Verdict{LineTooLong}},
		{"a header line longer than the tracker keeps", "GET / HTTP/1.1\r\nX: " + pad(maxTrackedLine+10) + "\r\n\r\n", []Verdict{HeadTooLarge}},
		{"a request line longer than the tracker keeps", "GET /" + pad(maxTrackedLine+10) + " HTTP/1.1\r\n\r\n", []Verdict{LineTooLong}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for trial := range 30 {
				c := NewConn(nil, nil, nil)
				c.guard = g
				b := []byte(tt.raw)
				r := rand.New(rand.NewPCG(uint64(trial), 2))
				for len(b) > 0 {
					n := 1 + r.IntN(min(len(b), 300))
					if trial == 0 {
						n = len(b)
					}
					c.track(b[:n])
					b = b[n:]
				}
				if c.state == lost {
					t.Fatalf("trial %d: tracker lost the framing", trial)
				}
				if len(c.verdicts) != len(tt.want) {
					t.Fatalf("trial %d: verdicts %v, want %v", trial, c.verdicts, tt.want)
				}
				for i, want := range tt.want {
					if got := c.next(); got != want {
						t.Fatalf("trial %d: verdict %d = %v, want %v", trial, i, got, want)
					}
				}
			}
		})
	}
}
