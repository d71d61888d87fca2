package accesslog

import (
	"net"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/stack-web/stack/edge/internal/reqid"
	"github.com/stack-web/stack/edge/upstream"
)

// The JSON access log (access_log_format: json) writes one object per
// line, built by hand in the pooled buffer as the combined line is (no
// encoding/json, no map, no reflection per request):
//
//	{"time":"2026-11-29T22:41:00.123Z","client":"127.0.0.1","method":"GET","uri":"/polls/","proto":"HTTP/1.1",
//	 "host":"example.com","status":200,"bytes":1234,"duration":0.004211,"upstream":"unix:run/app.sock",
//	 "upstream_time":0.003902,"request_id":"6f1c…","referer":"","user_agent":"curl/8.0"}
//
// The names are those nginx users give their log_format json (and
// Caddy's where they agree), so dashboards built for either read it:
// time ($time_iso8601, milliseconds), client ($remote_addr; Caddy's
// client_ip), method, uri ($request_uri, as sent; Caddy's request.uri),
// status, bytes ($body_bytes_sent; Caddy's size), duration ($request_time
// and Caddy's duration, in seconds), upstream ($upstream_addr, every
// server tried, ", "-separated; "" when no upstream served it),
// upstream_time ($upstream_header_time: seconds to the response head;
// null without an upstream), request_id ($request_id), referer and
// user_agent ($http_referer, $http_user_agent).

func (l *Log) logJSON(r *http.Request, status int, bytes int64, requestID string, up *upstream.Trace, start time.Time) {
	bp := l.buf.Get().(*[]byte)
	b := append((*bp)[:0], `{"time":"`...)
	b = start.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, `","client":`...)
	b = appendJSONString(b, clientHost(r.RemoteAddr))
	b = append(b, `,"method":`...)
	b = appendJSONString(b, r.Method)
	b = append(b, `,"uri":`...)
	b = appendJSONString(b, Target(r))
	b = append(b, `,"proto":`...)
	b = appendJSONString(b, r.Proto)
	b = append(b, `,"host":`...)
	b = appendJSONString(b, r.Host)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, bytes, 10)
	b = append(b, `,"duration":`...)
	b = strconv.AppendFloat(b, time.Since(start).Seconds(), 'f', 6, 64)
	b = append(b, `,"upstream":`...)
	b = appendJSONString(b, up.Server)
	b = append(b, `,"upstream_time":`...)
	if up.Server == "" {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendFloat(b, up.Time.Seconds(), 'f', 6, 64)
	}
	b = append(b, `,"request_id":`...)
	b = appendJSONString(b, requestID)
	b = append(b, `,"referer":`...)
	b = appendJSONString(b, r.Referer())
	b = append(b, `,"user_agent":`...)
	b = appendJSONString(b, r.UserAgent())
	b = append(b, "}\n"...)
	l.write(bp, b)
}

// logRefusedJSON logs what net/http refused before any handler ran: the
// request line as it came, in uri.
func (l *Log) logRefusedJSON(remoteAddr, requestLine string, status int, bytes int64, start time.Time) {
	bp := l.buf.Get().(*[]byte)
	b := append((*bp)[:0], `{"time":"`...)
	b = start.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, `","client":`...)
	b = appendJSONString(b, clientHost(remoteAddr))
	b = append(b, `,"method":"","uri":`...)
	b = appendJSONString(b, requestLine)
	b = append(b, `,"proto":"","host":"","status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, bytes, 10)
	b = append(b, `,"duration":0,"upstream":"","upstream_time":null,"request_id":`...)
	b = appendJSONString(b, reqid.New())
	b = append(b, `,"referer":"","user_agent":""}`+"\n"...)
	l.write(bp, b)
}

func clientHost(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

// appendJSONString appends s as a JSON string. A client's bytes are
// arbitrary: control bytes are escaped, invalid UTF-8 becomes U+FFFD, so
// every line parses and none can be forged by a newline.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else if r == '\u2028' || r == '\u2029' {
			b = append(b, `\u202`...)
			b = append(b, hex[r&15])
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
