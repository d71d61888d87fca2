package edge

import (
	"net/http"
)

// originForm turns a request with an absolute-form target
// ("GET http://user:pass@example.com:8080/foo?q=1 HTTP/1.1") into the
// origin form the app expects ("/foo?q=1"), as nginx does (RFC 9112
// §3.2.2): the app never sees a scheme, a host or credentials in
// REQUEST_URI, and the host comes from the target (net/http has already
// put the target's authority, without userinfo, in Host).
func originForm(r *http.Request) *http.Request {
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

// truncate bounds what a log line quotes of a client's input.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}
