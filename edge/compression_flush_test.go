package edge_test

import (
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/uwsgi"
)

// An upstream that writes its page in many small pieces (a template
// rendered as it goes) gets it compressed into a few chunks, as nginx's
// gzip filter flushes only when its buffers fill or the response ends: the
// forwarder flushes after every read of a body of unknown length, and each
// flush used to be a sync flush of the encoder, 200 tiny chunks for 200
// writes. A response the app asks to stream (X-Accel-Buffering: no) still
// reaches the client read by read (server-sent events:
// TestEdgeCompressedStreamFlushesEachEvent).
func TestEdgeCompressionBuffersATrickledBody(t *testing.T) {
	piece := strings.Repeat("<li>a compressible line</li>\n", 4)[:100] // 200 of them: 20 KB
	up := startFakeUpstream(t, func(c net.Conn, vars uwsgi.Vars) {
		head := "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
		if vars.Value("PATH_INFO") == "/live" {
			head += "X-Accel-Buffering: no\r\n"
		}
		io.WriteString(c, head+"\r\n")
		for range 200 {
			io.WriteString(c, piece)
			time.Sleep(200 * time.Microsecond)
		}
	})
	base, _ := startEdgeLogged(t, compressConfig(up.sock, t.TempDir()))
	for path, live := range map[string]bool{"/page": false, "/live": true} {
		for _, coding := range []string{"gzip", "zstd"} {
			raw, ended := rawExchange(t, base, "GET "+path+" HTTP/1.1\r\nHost: a\r\nAccept-Encoding: "+coding+"\r\nConnection: close\r\n\r\n", 10*time.Second)
			if !ended {
				t.Fatalf("%s %s: the response did not end", path, coding)
			}
			chunks, body := dechunk(t, raw)
			if got := compressDecode(t, coding, []byte(body)); got != strings.Repeat(piece, 200) {
				t.Fatalf("%s %s: the decoded body differs (%d bytes)", path, coding, len(got))
			}
			switch {
			case !live && chunks > 4:
				t.Errorf("%s %s: %d chunks for 200 small upstream writes, want at most 4", path, coding, chunks)
			case live && chunks < 20:
				t.Errorf("%s %s (X-Accel-Buffering: no): %d chunks, want one per upstream read or so", path, coding, chunks)
			}
		}
	}
}

// dechunk returns the number of chunks of a raw HTTP/1.1 response (one
// for a body with a Content-Length: the server had it all before it sent
// the head) and its body.
func dechunk(t *testing.T, raw string) (int, string) {
	t.Helper()
	head, rest, ok := strings.Cut(raw, "\r\n\r\n")
	if !ok {
		t.Fatalf("no head: %.200q", raw)
	}
	if !strings.Contains(strings.ToLower(head), "transfer-encoding: chunked") {
		return 1, rest
	}
	var body strings.Builder
	for n := 0; ; n++ {
		line, after, _ := strings.Cut(rest, "\r\n")
		size, err := strconv.ParseInt(line, 16, 64)
		if err != nil || int64(len(after)) < size+2 {
			t.Fatalf("chunk %d: bad size line %q (%v)", n, line, err)
		}
		if size == 0 {
			return n, body.String()
		}
		body.WriteString(after[:size])
		rest = after[size+2:]
	}
}
