package h1

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
)

func parseHead(raw string, hard, soft, line int) (*http.Request, Problem, error) {
	var h head
	br := bufio.NewReaderSize(strings.NewReader(raw), 4096)
	if err := h.read(br, hard, line); err != nil {
		return nil, 0, err
	}
	r := &http.Request{}
	if err := h.parse(r, soft, line); err != nil {
		return nil, 0, err
	}
	return r, h.problem, nil
}

func statusOf(err error) int {
	if he, ok := err.(*headError); ok {
		return he.status
	}
	if err != nil {
		return -1
	}
	return 0
}

// Hostile heads: each refused by the server itself with the status, or
// served with a Problem the handler refuses.
func TestHostileHeads(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		status    int
		problem   Problem
	}{
		{"CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 0, ProblemCLandTE},
		{"TE and CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 0, ProblemCLandTE},
		{"equal CLs", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 0, ProblemDuplicateCL},
		{"differing CLs", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, 0},
		{"CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n", 400, 0},
		{"CL sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", 400, 0},
		{"CL negative", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, 0},
		{"CL overflow", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400, 0},
		{"CL hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400, 0},
		{"TE on 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 0, ProblemTEonHTTP10},
		{"TE gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501, 0},
		{"TE chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501, 0},
		{"TE chunked, gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, 0},
		{"TE with junk", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 501, 0},
		{"space before colon", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\n", 400, 0},
		{"tab before colon", "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\t: chunked\r\n\r\n", 400, 0},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400, 0},
		{"obs-fold first", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, 0},
		{"no colon", "GET / HTTP/1.1\r\nHost: a\r\nNo colon here\r\n\r\n", 400, 0},
		{"empty name", "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", 400, 0},
		{"NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400, 0},
		{"bare CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, 0},
		{"bare CR line end", "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400, 0},
		{"name with slash", "GET / HTTP/1.1\r\nHost: a\r\nX/Y: b\r\n\r\n", 400, 0},
		{"no Host on 1.1", "GET / HTTP/1.1\r\n\r\n", 400, 0},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, 0},
		{"bad Host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, 0},
		{"Host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, 0},
		{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, 0},
		{"HTTP/1.1x", "GET / HTTP/1.1x\r\nHost: a\r\n\r\n", 400, 0},
		{"lower-case proto", "GET / http/1.1\r\nHost: a\r\n\r\n", 400, 0},
		{"two spaces", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, 0},
		{"trailing space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, 0},
		{"tab separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, 0},
		{"no version", "GET /\r\nHost: a\r\n\r\n", 400, 0},
		{"bad method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, 0},
		{"CTL in target", "GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", 400, 0},
		{"DEL in query", "GET /a?\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400, 0},
		{"empty target", "GET  HTTP/1.1\r\nHost: a\r\n\r\n", 400, 0},
		{"too many empty lines", "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, 0},
		{"soft head limit", "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("x", 200) + "\r\n\r\n", 0, ProblemHeadTooLarge},
		{"soft line limit", "GET /" + strings.Repeat("x", 100) + " HTTP/1.1\r\nHost: a\r\n\r\n", 0, ProblemLineTooLong},
		{"hard head limit", "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("x", 2000) + "\r\n\r\n", 431, 0},
		{"hard limit in the line", "GET /" + strings.Repeat("x", 2000) + " HTTP/1.1\r\nHost: a\r\n\r\n", 414, 0},
		{"fine", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 0},
		{"fine, LF only", "GET / HTTP/1.1\nHost: a\n\n", 0, 0},
		{"fine, leading CRLF", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 0},
		{"fine, 1.0 without Host", "GET / HTTP/1.0\r\n\r\n", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, p, err := parseHead(tc.raw, 1024, 128, 32)
			if got := statusOf(err); got != tc.status {
				t.Fatalf("status %d (%v), want %d", got, err, tc.status)
			}
			if err == nil && p != tc.problem {
				t.Errorf("problem %d, want %d", p, tc.problem)
			}
		})
	}
}

// The request a handler gets is the one net/http would give it.
func TestRequestMatchesNetHTTP(t *testing.T) {
	for _, raw := range []string{
		"GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\naccept: */*\r\nX-Custom-thing: v \r\nCookie: a=1\r\nCookie: b=2\r\n\r\n",
		"GET /a%2Fb/c%20d HTTP/1.1\r\nHost: h:8080\r\n\r\n",
		"GET http://other.example/p?q HTTP/1.1\r\nHost: ignored\r\n\r\n",
		"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\nConnection: close\r\n\r\n",
		"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
		"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
		"GET /x? HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n",
		"GET /é HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET //double/./dots/../x HTTP/1.1\r\nHost: a\r\n\r\n",
	} {
		want, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			t.Fatalf("net/http: %q: %v", raw, err)
		}
		delete(want.Header, "Host")
		got, _, err := parseHead(raw, 0, 0, 0)
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		for _, d := range []struct {
			what      string
			got, want any
		}{
			{"Method", got.Method, want.Method},
			{"RequestURI", got.RequestURI, want.RequestURI},
			{"URL", got.URL.String(), want.URL.String()},
			{"Path", got.URL.Path, want.URL.Path},
			{"RawPath", got.URL.RawPath, want.URL.RawPath},
			{"RawQuery", got.URL.RawQuery, want.URL.RawQuery},
			{"Host", got.Host, want.Host},
			{"Proto", got.Proto, want.Proto},
			{"Close", got.Close, want.Close},
			{"ContentLength", got.ContentLength, want.ContentLength},
			{"TransferEncoding", strings.Join(got.TransferEncoding, ","), strings.Join(want.TransferEncoding, ",")},
			{"Header", headerString(got.Header), headerString(want.Header)},
		} {
			if d.got != d.want {
				t.Errorf("%q: %s %v, net/http %v", raw, d.what, d.got, d.want)
			}
		}
	}
}

func headerString(h http.Header) string {
	var b strings.Builder
	h.WriteSubset(&b, nil)
	return b.String()
}

// Common header names cost no allocation; any spelling gives net/http's key.
func TestCanonicalKeys(t *testing.T) {
	for _, k := range []string{"content-type", "CONTENT-TYPE", "x-forwarded-for", "X-FORWARDED-FOR", "foo_bar", "x-a-b", "Sec-WebSocket-Key", "dnt"} {
		if got, want := canonicalKey(k), http.CanonicalHeaderKey(k); got != want {
			t.Errorf("%q: %q, want %q", k, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { canonicalKey("user-agent"); canonicalKey("Accept-Encoding") }); n != 0 {
		t.Errorf("%v allocations for common keys", n)
	}
}

func FuzzHead(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET http://x/y?z HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n",
		"GET /a%2F HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"CONNECT a:1 HTTP/1.1\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r, problem, err := parseHead(raw, 4096, 2048, 512)
		if err != nil || problem != ProblemNone {
			return // refused, by the server or by the handler
		}
		// What we accept, net/http accepts and reads the same way (less
		// the empty lines before the request line, which its server skips
		// only after a POST and we always, as RFC 9112 2.2 and nginx).
		want, werr := http.ReadRequest(bufio.NewReader(strings.NewReader(strings.TrimLeft(raw, "\r\n"))))
		if werr != nil {
			t.Fatalf("accepted %q, net/http: %v", raw, werr)
		}
		if r.Method != want.Method || r.RequestURI != want.RequestURI || r.URL.String() != want.URL.String() || r.Host != want.Host {
			t.Fatalf("%q: %s %s %s %s, net/http %s %s %s %s", raw, r.Method, r.RequestURI, r.URL, r.Host, want.Method, want.RequestURI, want.URL, want.Host)
		}
		if r.ContentLength != want.ContentLength && r.ContentLength >= 0 {
			t.Fatalf("%q: Content-Length %d, net/http %d", raw, r.ContentLength, want.ContentLength)
		}
	})
}
