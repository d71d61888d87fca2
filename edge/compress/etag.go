package compress

import (
	"net/http"
	"strings"
)

// notModified makes a 304 carry the validator the client holds. The
// compressed variant's ETag is the identity's made weak (encode), while a
// 304 is never compressed: the static location or the app answers it with
// their strong ETag, and the client that revalidated its compressed copy
// with W/"x" got back "x" (and no Vary), a validator no 200 of that
// variant carried (RFC 9110 15.4.5 asks for the one the 200 would have
// had). If-None-Match compares weakly, so W/"x" matched "x"; when the
// request named W/"x" and not "x", the copy it revalidates is the one
// encode weakened, and the 304 says W/"x" and Vary: Accept-Encoding, as
// that copy's 200 did. A 304 to a client that holds "x" keeps it.
func notModified(hdr http.Header, ifNoneMatch []string) {
	et := hdr["Etag"]
	if len(et) == 0 || strings.HasPrefix(et[0], "W/") || len(ifNoneMatch) == 0 {
		return
	}
	weak, strong := false, false
	for _, v := range ifNoneMatch {
		for v != "" {
			var tag string
			tag, v = nextTag(v)
			switch tag {
			case et[0]:
				strong = true
			case "W/" + et[0]:
				weak = true
			}
		}
	}
	if weak && !strong {
		hdr["Etag"] = []string{"W/" + et[0]}
		AddVary(hdr)
	}
}

// nextTag returns the first entity-tag of an If-None-Match list (W/"x",
// "x", or what stands there instead) and the rest of the list. A quoted
// tag may hold a comma.
func nextTag(v string) (tag, rest string) {
	v = strings.TrimLeft(v, " \t,")
	start := 0
	if strings.HasPrefix(v, "W/") {
		start = 2
	}
	if start < len(v) && v[start] == '"' {
		if end := strings.IndexByte(v[start+1:], '"'); end >= 0 {
			n := start + end + 2
			return v[:n], v[n:]
		}
	}
	tag, rest, _ = strings.Cut(v, ",")
	return strings.TrimSpace(tag), rest
}
