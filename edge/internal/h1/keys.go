package h1

import "net/textproto"

// canonicalKey is textproto.CanonicalMIMEHeaderKey, with no allocation
// for the header names clients usually send (a table lookup on the name
// as sent, then on its canonical form).
func canonicalKey(name string) string {
	if k, ok := commonKeys[name]; ok {
		return k
	}
	if isCanonical(name) {
		return name // a substring of the head: no copy
	}
	k := textproto.CanonicalMIMEHeaderKey(name)
	if c, ok := commonKeys[k]; ok {
		return c
	}
	return k
}

// isCanonical reports whether name is already in canonical form: an upper
// case letter first and after each '-', lower case elsewhere.
func isCanonical(name string) bool {
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case upper && 'a' <= c && c <= 'z':
			return false
		case !upper && 'A' <= c && c <= 'Z':
			return false
		}
		upper = c == '-'
	}
	return true
}

var commonKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Accept-Ranges",
		"Authorization", "Cache-Control", "Connection", "Content-Encoding", "Content-Language",
		"Content-Length", "Content-Type", "Cookie", "Date", "Dnt", "Expect", "Forwarded", "From",
		"Host", "If-Match", "If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since",
		"Keep-Alive", "Max-Forwards", "Origin", "Pragma", "Priority", "Proxy-Authorization",
		"Proxy-Connection", "Range", "Referer", "Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site",
		"Sec-Fetch-User", "Sec-Websocket-Extensions", "Sec-Websocket-Key", "Sec-Websocket-Protocol",
		"Sec-Websocket-Version", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Upgrade-Insecure-Requests", "User-Agent", "Via", "X-Forwarded-For", "X-Forwarded-Host",
		"X-Forwarded-Proto", "X-Real-Ip", "X-Request-Id", "X-Requested-With", "X-Csrftoken",
	} {
		m[k] = k
		lower := []byte(k)
		for i, c := range lower {
			if 'A' <= c && c <= 'Z' {
				lower[i] = c + 'a' - 'A'
			}
		}
		m[string(lower)] = k
	}
	// Spellings clients use that differ from both.
	m["User-agent"], m["Content-type"], m["Content-length"] = "User-Agent", "Content-Type", "Content-Length"
	m["Sec-WebSocket-Key"], m["Sec-WebSocket-Version"], m["Sec-WebSocket-Protocol"], m["Sec-WebSocket-Extensions"] =
		"Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions"
	m["X-Real-IP"], m["TE"], m["DNT"] = "X-Real-Ip", "Te", "Dnt"
	return m
}()

// commonMethod returns the method as a constant for the usual ones, so
// that the request does not keep the head's string alive for it.
func commonMethod(m string) string {
	switch m {
	case "GET":
		return "GET"
	case "HEAD":
		return "HEAD"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "OPTIONS":
		return "OPTIONS"
	case "PATCH":
		return "PATCH"
	}
	return m
}
