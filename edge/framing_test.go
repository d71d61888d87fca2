package edge

import (
	"math/rand/v2"
	"testing"
)

func TestFramingTracker(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want []framingVerdict
	}{
		{"simple GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", []framingVerdict{framingOK}},
		{"pipelined with a Content-Length body that looks like a head",
			"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 66\r\n\r\n" +
				"GET /x HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n" +
				"GET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
			[]framingVerdict{framingOK, framingOK}},
		{"chunked body with extensions and trailers",
			"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
				"5;ext=1\r\nhello\r\n3\r\na\nb\r\n0\r\nX-Trailer: 1\r\n\r\n" +
				"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
			[]framingVerdict{framingOK, framingOK}},
		{"CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []framingVerdict{framingCLandTE}},
		{"TE and CL, mixed case", "POST / HTTP/1.1\r\ntransfer-ENCODING: chunked\r\ncontent-length: 4\r\n\r\n0\r\n\r\n", []framingVerdict{framingCLandTE}},
		{"duplicate equal CL", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", []framingVerdict{framingDuplicateCL}},
		{"TE on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\nx", []framingVerdict{framingTEonHTTP10}},
		{"leading empty line", "\r\nGET / HTTP/1.1\r\n\r\n", []framingVerdict{framingOK}},
		{"bare LF line ends", "GET / HTTP/1.1\nHost: a\n\nGET / HTTP/1.1\nContent-Length: 0\nContent-Length: 0\n\n", []framingVerdict{framingOK, framingDuplicateCL}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Whatever the read boundaries, the verdicts are the same.
			for trial := range 50 {
				c := newFramingConn(nil)
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
				var got []framingVerdict
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
	c := newFramingConn(nil)
	c.track([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"))
	if c.state != lost {
		t.Fatalf("bad chunk size: state %v, want lost", c.state)
	}
	c.track([]byte("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n"))
	c.next()
	if v := c.next(); v != framingOK {
		t.Errorf("after losing track, verdict %v, want ok", v)
	}
}
