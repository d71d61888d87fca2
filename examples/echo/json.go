package echo

import (
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
)

// The reply's JSON is written by hand, byte for byte what
// json.MarshalIndent(req, "", "  ") writes: MarshalIndent walked the
// struct by reflection, then re-read its output to indent it, which was
// two thirds of the handler's time (BenchmarkEcho). TestAppendRequest
// compares the two.

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// appendRequest appends q as json.MarshalIndent(q, "", "  ") does, and a
// newline.
func appendRequest(b []byte, q *Request) []byte {
	b = append(b, "{\n  \"method\": "...)
	b = appendString(b, q.Method)
	b = append(b, ",\n  \"path\": "...)
	b = appendString(b, q.Path)
	b = append(b, ",\n  \"raw_path\": "...)
	b = appendString(b, q.RawPath)
	b = append(b, ",\n  \"query\": "...)
	b = appendString(b, q.Query)
	b = append(b, ",\n  \"headers\": "...)
	b = appendHeaders(b, q.Headers)
	b = append(b, ",\n  \"host\": "...)
	b = appendString(b, q.Host)
	b = append(b, ",\n  \"scheme\": "...)
	b = appendString(b, q.Scheme)
	b = append(b, ",\n  \"remote_addr\": "...)
	b = appendString(b, q.RemoteAddr)
	b = append(b, ",\n  \"body_length\": "...)
	b = strconv.AppendInt(b, q.BodyLength, 10)
	b = append(b, ",\n  \"body_sha256\": "...)
	b = appendString(b, q.BodySHA256)
	return append(b, "\n}\n"...)
}

// appendHeaders appends h as an object with sorted keys, at the depth of
// Request's fields.
func appendHeaders(b []byte, h map[string][]string) []byte {
	if h == nil {
		return append(b, "null"...)
	}
	if len(h) == 0 {
		return append(b, "{}"...)
	}
	var small [32]string
	keys := small[:0]
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n    "...)
		b = appendString(b, k)
		b = append(b, ": "...)
		switch vs := h[k]; {
		case vs == nil:
			b = append(b, "null"...)
		case len(vs) == 0:
			b = append(b, "[]"...)
		default:
			b = append(b, '[')
			for j, v := range vs {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(b, "\n      "...)
				b = appendString(b, v)
			}
			b = append(b, "\n    ]"...)
		}
	}
	return append(b, "\n  }"...)
}

const hexDigits = "0123456789abcdef"

// appendString appends s quoted as encoding/json does with HTML escaping
// (its default): <, > and & as \u003c..., control characters, invalid
// UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
