// Package urlpath puts a request's target in the form locations are
// matched on, as nginx does before matching: the origin form of an
// absolute-form target, and a path with "." and ".." resolved and
// repeated slashes merged. It stands alone because the front, the
// location validation and X-Accel-Redirect all need the same form.
package urlpath

import (
	"net/http"
	"strings"
)

// OriginForm turns a request with an absolute-form target
// ("GET http://user:pass@example.com:8080/foo?q=1 HTTP/1.1") into the
// origin form the app expects ("/foo?q=1"), as nginx does (RFC 9112
// §3.2.2): the app never sees a scheme, a host or credentials in
// REQUEST_URI, and the host comes from the target (net/http has already
// put the target's authority, without userinfo, in Host).
func OriginForm(r *http.Request) *http.Request {
	u := *r.URL
	u.Scheme, u.Host, u.User, u.Opaque = "", "", nil, ""
	if u.Path == "" {
		u.Path, u.RawPath = "/", ""
	}
	r2 := r.WithContext(r.Context()) // a shallow copy
	r2.URL = &u
	r2.RequestURI = u.RequestURI()
	r2.Host = r.URL.Host
	return r2
}

// Normalize resolves "." and ".." segments and merges repeated slashes,
// as nginx does before matching locations (so PATH_INFO is what matched).
// A path that climbs above the root, or holds a NUL, is refused.
func Normalize(p string) (string, bool) {
	if strings.IndexByte(p, 0) >= 0 {
		return "", false
	}
	if !strings.Contains(p, "//") && !strings.Contains(p, "/.") {
		return p, true // the common case: nothing to do, no allocation
	}
	segs := strings.Split(p[1:], "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case "", ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) == 0 {
				return "", false
			}
			out = out[:len(out)-1]
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/"), true
}
