package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/fastcgi"
	"github.com/stack-web/stack/uwsgi/uwsgitest"
)

// hostileFastCGI is a FastCGI server that reads one request (to its empty
// STDIN record) and answers with script's bytes as they are, then closes.
func hostileFastCGI(t *testing.T, script []byte) *FastCGITransport {
	t.Helper()
	return hostileFastCGIFunc(t, func(c net.Conn) { c.Write(script) })
}

// hostileFastCGIFunc is hostileFastCGI answering with answer.
func hostileFastCGIFunc(t *testing.T, answer func(net.Conn)) *FastCGITransport {
	t.Helper()
	// uwsgitest's server is protocol-blind: it serves a Unix socket.
	sock, _ := uwsgitest.Serve(t, func(c net.Conn) {
		var h [fastcgi.HeaderSize]byte
		for {
			if _, err := io.ReadFull(c, h[:]); err != nil {
				return
			}
			n := int(binary.BigEndian.Uint16(h[4:])) + int(h[6])
			if _, err := io.CopyN(io.Discard, c, int64(n)); err != nil {
				return
			}
			if h[1] == fastcgi.TypeStdin && n == 0 {
				break
			}
		}
		answer(c)
	})
	return &FastCGITransport{Network: "unix", Address: sock, ConnectTimeout: time.Second,
		ReadTimeout: 5 * time.Second, SendTimeout: 5 * time.Second, Root: "/srv"}
}

// fcgiRecord is one record of typ for request id, with pad bytes of padding.
func fcgiRecord(typ uint8, id uint16, content []byte, pad int) []byte {
	b := []byte{1, typ, byte(id >> 8), byte(id), byte(len(content) >> 8), byte(len(content)), byte(pad), 0}
	b = append(b, content...)
	return append(b, make([]byte, pad)...)
}

func fcgiEnd() []byte { return fcgiRecord(fastcgi.TypeEndRequest, 1, make([]byte, 8), 0) }

// fcgiRoundTrip sends a GET through t and reads the whole answer.
func fcgiRoundTrip(t *testing.T, tr *FastCGITransport) (*http.Response, []byte, error) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://example.com/index.php", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := tr.RoundTrip(req.WithContext(ctx))
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// A STDERR flood (a PHP loop of error_log calls) puts a bounded amount in
// the edge's log: one request's 5 MB of stderr was logged whole before.
func TestFastCGIStderrFloodIsBounded(t *testing.T) {
	var script []byte
	line := bytes.Repeat([]byte("E"), 1000)
	for range 5000 {
		script = append(script, fcgiRecord(fastcgi.TypeStderr, 1, line, 0)...)
	}
	script = append(script, fcgiRecord(fastcgi.TypeStdout, 1, []byte("Content-Type: text/plain\r\n\r\nok\n"), 0)...)
	script = append(script, fcgiEnd()...)
	tr := hostileFastCGI(t, script)
	var log bytes.Buffer
	tr.Logger = slog.New(slog.NewTextHandler(&log, nil))
	resp, body, err := fcgiRoundTrip(t, tr)
	if err != nil || resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Fatalf("%v %q %v", resp, body, err)
	}
	t.Logf("5 MB of stderr: %d bytes and %d lines in the log", log.Len(), strings.Count(log.String(), "\n"))
	if log.Len() > 256<<10 {
		t.Errorf("the log took %d bytes of one request's stderr", log.Len())
	}
	if !strings.Contains(log.String(), "not logged") {
		t.Errorf("the log does not say that stderr was cut:\n%.2000s", log.String())
	}
}

// Each hostile answer is a clean error (the proxy's 502) or a correct
// response: never a hang, a panic or a completed wrong body.
func TestFastCGIHostileServers(t *testing.T) {
	head := []byte("Content-Type: text/plain\r\n\r\n")
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cases := []struct {
		name   string
		script []byte
		status int    // 0: RoundTrip or the body read must fail
		body   string // the whole body, when status != 0
	}{
		{"padding runs past the end", cat(fcgiRecord(fastcgi.TypeStdout, 1, head, 0), []byte{1, 6, 0, 1, 0, 2, 255, 0, 'h', 'i'}), 0, ""},
		{"END_REQUEST before STDOUT", cat(fcgiEnd(), fcgiRecord(fastcgi.TypeStdout, 1, head, 0)), 0, ""},
		{"STDOUT after END_REQUEST", cat(fcgiRecord(fastcgi.TypeStdout, 1, cat(head, []byte("ok")), 0), fcgiEnd(), fcgiRecord(fastcgi.TypeStdout, 1, []byte("smuggled"), 0)), 200, "ok"},
		{"another request id", cat(fcgiRecord(fastcgi.TypeStdout, 1, head, 0), fcgiRecord(fastcgi.TypeStdout, 2, []byte("x"), 0), fcgiEnd()), 0, ""},
		{"head over 64 KiB", cat(fcgiRecord(fastcgi.TypeStdout, 1, []byte("X-A: "+strings.Repeat("a", 60000)+"\r\n"), 0), fcgiRecord(fastcgi.TypeStdout, 1, []byte("X-B: "+strings.Repeat("b", 60000)+"\r\n\r\n"), 0), fcgiEnd()), 0, ""},
		{"Status garbage", cat(fcgiRecord(fastcgi.TypeStdout, 1, []byte("Status: abc\r\n\r\nx"), 0), fcgiEnd()), 0, ""},
		{"Status 99", cat(fcgiRecord(fastcgi.TypeStdout, 1, []byte("Status: 99\r\n\r\nx"), 0), fcgiEnd()), 0, ""},
		{"Status 1000", cat(fcgiRecord(fastcgi.TypeStdout, 1, []byte("Status: 1000 Big\r\n\r\nx"), 0), fcgiEnd()), 0, ""},
		{"no Status, no Content-Type", cat(fcgiRecord(fastcgi.TypeStdout, 1, []byte("X-A: 1\r\n\r\nbare"), 0), fcgiEnd()), 200, "bare"},
		{"an empty head", cat(fcgiRecord(fastcgi.TypeStdout, 1, []byte("\r\nbare"), 0), fcgiEnd()), 0, ""},
		{"a head with no blank line", cat(fcgiRecord(fastcgi.TypeStdout, 1, []byte("X-A: 1\r\n"), 0), fcgiEnd()), 0, ""},
		{"Content-Length longer than STDOUT", cat(fcgiRecord(fastcgi.TypeStdout, 1, []byte("Content-Length: 10\r\n\r\nshort"), 0), fcgiEnd()), 0, ""},
		{"no END_REQUEST", fcgiRecord(fastcgi.TypeStdout, 1, cat(head, []byte("cut")), 0), 0, ""},
		{"END_REQUEST overloaded", cat(fcgiRecord(fastcgi.TypeStdout, 1, cat(head, []byte("x")), 0), fcgiRecord(fastcgi.TypeEndRequest, 1, []byte{0, 0, 0, 0, fastcgi.StatusOverloaded, 0, 0, 0}, 0)), 0, ""},
		{"version 2", cat(fcgiRecord(fastcgi.TypeStdout, 1, head, 0)[:0], []byte{2, 6, 0, 1, 0, 0, 0, 0}), 0, ""},
		{"100 Continue forever", bytes.Repeat(fcgiRecord(fastcgi.TypeStdout, 1, []byte("Status: 100\r\n\r\n"), 0), 8000), 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := hostileFastCGI(t, c.script)
			done := make(chan struct{})
			var resp *http.Response
			var body []byte
			var err error
			go func() {
				defer close(done)
				defer func() {
					if p := recover(); p != nil {
						err = errors.New("panic")
						t.Errorf("panic: %v", p)
					}
				}()
				resp, body, err = fcgiRoundTrip(t, tr)
			}()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				t.Fatal("hang")
			}
			if c.status == 0 {
				if err == nil {
					t.Errorf("got %d %q, want an error", resp.StatusCode, body)
				} else {
					t.Logf("error: %v", err)
				}
				return
			}
			if err != nil || resp.StatusCode != c.status || string(body) != c.body {
				t.Errorf("got %v %q %v, want %d %q", resp, body, err, c.status, c.body)
			}
		})
	}
}

// PARAMS longer than one record are cut between pairs: PHP-FPM parses
// each record on its own and reset the connection (a 502) when 200
// headers of 1 KB were cut mid-pair.
func TestFastCGIParamsRecordsHoldWholePairs(t *testing.T) {
	tr := &FastCGITransport{Root: "/srv"}
	req, _ := http.NewRequest("GET", "http://example.com/index.php", nil)
	for i := range 200 {
		req.Header.Set("X-H"+strconv.Itoa(i), strings.Repeat("b", 1000+i))
	}
	req.Header.Set("X-Huge", strings.Repeat("h", 100000)) // longer than a record: cut, never a panic
	huge := 0
	pkt := tr.AppendRequest(nil, req)
	rd := bytes.NewReader(pkt)
	var h [fastcgi.HeaderSize]byte
	records, headers := 0, 0
	for {
		if _, err := io.ReadFull(rd, h[:]); err != nil {
			t.Fatal("no empty PARAMS record")
		}
		content := make([]byte, int(binary.BigEndian.Uint16(h[4:])))
		io.ReadFull(rd, content)
		io.CopyN(io.Discard, rd, int64(h[6]))
		if h[1] != fastcgi.TypeParams {
			continue
		}
		if len(content) == 0 {
			break
		}
		records++
		err := fastcgi.ParsePairs(content, func(k, v []byte) {
			if bytes.HasPrefix(k, []byte("HTTP_X_H")) {
				headers++
			}
		})
		if bytes.Contains(content, []byte("HTTP_X_HUGE")) || bytes.HasPrefix(content, []byte("hhhh")) {
			huge++
			continue // the one pair that cannot fit a record
		}
		if err != nil {
			t.Errorf("PARAMS record %d does not parse on its own, as PHP-FPM parses it: %v", records, err)
		}
	}
	if huge != 2 {
		t.Errorf("the 100 KB header went in %d records, want 2", huge)
	}
	if records < 2 || headers != 200 {
		t.Errorf("%d PARAMS records with %d of the 200 headers", records, headers)
	}
}

// read_timeout is between two reads, as nginx's fastcgi_read_timeout: a
// script that logs to STDERR every 300 ms for 1.5 s before its answer is
// alive, and is not cut off by a 1 s read_timeout (it was: 504).
func TestFastCGIReadTimeoutIsBetweenReads(t *testing.T) {
	tr := hostileFastCGIFunc(t, func(c net.Conn) {
		for range 5 {
			c.Write(fcgiRecord(fastcgi.TypeStderr, 1, []byte("working"), 0))
			time.Sleep(300 * time.Millisecond)
		}
		c.Write(fcgiRecord(fastcgi.TypeStdout, 1, []byte("Content-Type: text/plain\r\n\r\ndone"), 0))
		c.Write(fcgiEnd())
	})
	tr.ReadTimeout = time.Second
	resp, body, err := fcgiRoundTrip(t, tr)
	if err != nil || resp.StatusCode != 200 || string(body) != "done" {
		t.Errorf("%v %q %v", resp, body, err)
	}
}
