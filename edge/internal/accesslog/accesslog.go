// Package accesslog writes the edge's access log: one line per request, in
// nginx's "combined" format plus the request time, or as one JSON object
// (access_log_format: json). It stands alone because it only formats what
// a request's end tells it (status, bytes, times, the upstream) and writes
// it with one write call; it knows nothing of locations or upstreams.
package accesslog

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stack-web/stack/edge/upstream"
)

// Log writes one line per request in nginx's "combined" format plus
// the request time, which log tools already parse:
//
//	127.0.0.1 - - [25/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 12 "-" "curl/8.0" 0.001
//
// Each line is built in a pooled buffer and written with one write call.
type Log struct {
	json bool // access_log_format: json (json.go)
	mu   sync.Mutex
	w    io.Writer
	f    *os.File // non-nil when we opened it
	buf  sync.Pool
}

// Open opens the destination: "off" (nil log), "stderr",
// "stdout" or a file path, appended to; format is "combined" or "json".
func Open(dest, format string) (*Log, error) {
	l := &Log{json: format == "json", buf: sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}}
	switch dest {
	case "off":
		return nil, nil
	case "stderr":
		l.w = os.Stderr
	case "stdout":
		l.w = os.Stdout
	default:
		f, err := os.OpenFile(dest, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("edge: access_log: %w", err)
		}
		l.w, l.f = f, f
	}
	return l, nil
}

// Close closes the file the log opened, if any.
func (l *Log) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	return l.f.Close()
}

// JSON reports whether the log is access_log_format: json, which names the
// upstream server and its time (the caller traces them for it).
func (l *Log) JSON() bool { return l.json }

// Request logs r, answered with status (0: none was sent) and bytes of
// body; requestID and up (the upstream server tried and its time) are for
// the JSON format.
func (l *Log) Request(r *http.Request, start time.Time, status int, bytes int64, requestID string, up *upstream.Trace) {
	if status == 0 {
		status = 499 // nginx's code for "client closed the connection first"
		if r.Context().Err() == nil {
			status = http.StatusOK
		}
	}
	if l.json {
		l.logJSON(r, status, bytes, requestID, up, start)
		return
	}
	bp := l.buf.Get().(*[]byte)
	b := appendLineStart(*bp, r.RemoteAddr, start)
	b = append(b, r.Method...)
	b = append(b, ' ')
	b = appendEscaped(b, Target(r))
	b = append(b, ' ')
	b = append(b, r.Proto...)
	b = appendLineEnd(b, status, bytes, r.Referer(), r.UserAgent(), start)
	l.write(bp, b)
}

// Refused logs a request that the server refused before any handler ran
// (a head too large or malformed), with the request line as it came.
func (l *Log) Refused(remoteAddr, requestLine string, status int, bytes int64) {
	start := time.Now()
	if l.json {
		l.logRefusedJSON(remoteAddr, requestLine, status, bytes, start)
		return
	}
	bp := l.buf.Get().(*[]byte)
	b := appendLineStart(*bp, remoteAddr, start)
	b = appendEscaped(b, requestLine)
	b = appendLineEnd(b, status, bytes, "", "", start)
	l.write(bp, b)
}

func appendLineStart(b []byte, remoteAddr string, start time.Time) []byte {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	b = append(b[:0], host...)
	b = append(b, " - - ["...)
	b = start.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	return append(b, "] \""...)
}

func appendLineEnd(b []byte, status int, bytes int64, referer, ua string, start time.Time) []byte {
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, bytes, 10)
	b = append(b, " \""...)
	b = appendEscaped(b, orDash(referer))
	b = append(b, "\" \""...)
	b = appendEscaped(b, orDash(ua))
	b = append(b, "\" "...)
	b = strconv.AppendFloat(b, time.Since(start).Seconds(), 'f', 3, 64)
	return append(b, '\n')
}

// write writes one line with one write call and returns its buffer.
func (l *Log) write(bp *[]byte, b []byte) {
	l.mu.Lock()
	l.w.Write(b)
	l.mu.Unlock()
	*bp = b
	l.buf.Put(bp)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// appendEscaped escapes quotes, backslashes and control bytes as nginx
// does (\xHH), so a client cannot forge log lines.
func appendEscaped(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '\\' || c < 0x20 || c >= 0x7f {
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}

// Target is the request target for the access log: what the client
// sent, minus any credentials in an absolute-form target.
func Target(r *http.Request) string {
	uri := r.RequestURI
	if uri == "" || uri[0] == '/' {
		return uri
	}
	i := strings.Index(uri, "://")
	if i < 0 {
		return uri
	}
	rest := uri[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
		return uri[:i+3] + rest[at+1:]
	}
	return uri
}
