package edge_test

import (
	"crypto/tls"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// An HTTP/2 :path with a space is refused (400), as nginx refuses one
// ("client sent invalid :path header") and as no HTTP/1.1 request line can
// carry it: Go's HTTP/2 server refuses control bytes in :path but not the
// space, and the edge passes the query as the client sent it, so the app
// got REQUEST_URI "/?a= b" and an http upstream the request line
// "GET /?a= HTTP/1.0 HTTP/1.1", which a lenient parser reads as another
// version; the access log's request field split there too.
func TestTLSHTTP2PathWithASpaceIsRefused(t *testing.T) {
	var mu sync.Mutex
	var reached []string
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reached = append(reached, r.RequestURI)
		mu.Unlock()
		echoHandler(w, r)
	})
	te := startTLSEdge(t, uwsgiConfig(startApp(t, app)))
	for path, want := range map[string]int{
		"/ok?a=%20b":         200,
		"/a b":               400,
		"/?a= b":             400,
		"/x?a= HTTP/1.0":     400,
		"/?q=" + "\xff":      200, // a byte over 0x7f is not a separator (nginx takes it too)
		"/a?b=c&d=e f&g=h":   400,
		"/trailing?space=x ": 400,
	} {
		if got := te.h2PathStatus(t, path); got != want {
			t.Errorf(":path %q: %d, want %d", path, got, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, uri := range reached {
		if strings.Contains(uri, " ") {
			t.Errorf("the app got a request target with a space: %q", uri)
		}
	}
}

// An HTTP/2 :path in absolute form is refused (400), as nginx refuses it:
// RFC 9113 has the target's scheme and authority in their own
// pseudo-headers, and Go's HTTP/2 server took "http://a<b>/x", whose host
// then chose the server and reached the app as its Host and
// X-Forwarded-Host, past the check the :authority gets
// (TestTLSHTTP2MalformedAuthorityIsRefused).
func TestTLSHTTP2AbsolutePathIsRefused(t *testing.T) {
	var mu sync.Mutex
	var hosts []string
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts = append(hosts, r.Host+" "+r.Header.Get("X-Forwarded-Host"))
		mu.Unlock()
		echoHandler(w, r)
	})
	te := startTLSEdge(t, uwsgiConfig(startApp(t, app)))
	for path, want := range map[string]int{
		"/x":                  200,
		"//x":                 200,
		"http://a<b>/x":       400,
		`https://a"b/x`:       400,
		"https://localhost/x": 400,
		"ftp://localhost/x":   400,
		"x":                   -1, // Go's server resets the stream itself
	} {
		if got := te.h2PathStatus(t, path); got != want {
			t.Errorf(":path %q: %d, want %d", path, got, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, h := range hosts {
		if h != "localhost localhost" {
			t.Errorf("the app got Host and X-Forwarded-Host %q, not the :authority", h)
		}
	}
}

// An HTTP/2 request with neither :authority nor Host is refused (400), as
// an HTTP/1.1 one without Host is, by both fronts and by nginx (RFC 9113
// §8.3.1 asks for one of them): it was served by the default server, and
// an http upstream got the upstream's own name as its Host.
func TestTLSHTTP2RequestWithoutAuthorityIsRefused(t *testing.T) {
	te := startTLSEdge(t, uwsgiConfig(startApp(t, http.HandlerFunc(echoHandler))))
	for auth, want := range map[string]int{"localhost": 200, "": 400} {
		c, err := tls.Dial("tcp", te.secure, &tls.Config{RootCAs: te.pool, ServerName: "localhost", NextProtos: []string{"h2"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := tlsBrkH2StatusOf(t, c, auth, "/x"); got != want {
			t.Errorf(":authority %q: %d, want %d", auth, got, want)
		}
		c.Close()
	}
}

// h2PathStatus sends one HTTP/2 request for path over a new connection and
// returns its status (-1 for a reset stream).
func (te *tlsEdge) h2PathStatus(t *testing.T, path string) int {
	t.Helper()
	return te.h2Status(t, "localhost", path)
}

// h2Status is h2PathStatus with the :authority auth.
func (te *tlsEdge) h2Status(t *testing.T, auth, path string) int {
	t.Helper()
	c, err := tls.Dial("tcp", te.secure, &tls.Config{RootCAs: te.pool, ServerName: "localhost", NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return tlsBrkH2StatusOf(t, c, auth, path)
}
