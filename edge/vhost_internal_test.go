package edge

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
)

// testRouter has three servers: A (an exact name and a wildcard), B (a
// longer wildcard, IP addresses) and, when withDefault, D, the default.
func testRouter(withDefault bool) (rt *router, a, b, d *site) {
	rt = &router{}
	a, b, d = &site{name: "A"}, &site{name: "B"}, &site{name: "D"}
	rt.add(ServerConfig{Names: []string{"a.example.com", "*.Example.com."}}, a)
	rt.add(ServerConfig{Names: []string{"b.example.com", "*.b.example.com", "127.0.0.1", "::1"}}, b)
	if withDefault {
		rt.add(ServerConfig{Names: []string{"d.example.org"}, Default: true}, d)
	} else {
		d = nil
	}
	return rt, a, b, d
}

func TestServerNameMatching(t *testing.T) {
	for _, withDefault := range []bool{true, false} {
		rt, a, b, d := testRouter(withDefault)
		for _, c := range []struct {
			host string
			want *site
		}{
			{"a.example.com", a},
			{"A.Example.COM", a},          // case
			{"a.example.com.", a},         // trailing dot
			{"a.example.com:8000", a},     // port
			{"a.example.com.:8000", a},    // both
			{"x.example.com", a},          // wildcard
			{"x.y.example.com", a},        // wildcard, two labels
			{"b.example.com", b},          // exact beats *.example.com
			{"x.b.example.com", b},        // the longest wildcard wins
			{"X.B.Example.Com:443", b},    //
			{"127.0.0.1:8000", b},         // an address is a name
			{"[::1]:8000", b},             // IPv6 with a port
			{"[::1]", b},                  // IPv6 without
			{"example.com", d},            // *.example.com does not match example.com
			{".example.com", d},           // not a subdomain
			{"d.example.org", d},          // the default by name
			{"unknown.net", d},            // the default, or nothing
			{"", d},                       // no Host (HTTP/1.0)
			{"xa.example.com.evil", d},    // suffix only
			{"a.example.com.evil.com", d}, //
		} {
			if got := lookup(rt, c.host); got != c.want {
				t.Errorf("default=%v: lookup(%q) = %v, want %v", withDefault, c.host, got, c.want)
			}
		}
	}
}

// A request whose Host no server names gets 421 without a default server;
// so does a TLS request whose SNI chose another server than its Host.
func TestMisdirectedRequests(t *testing.T) {
	for _, c := range []struct {
		withDefault bool
		host, sni   string
		tls         bool
		want        string // the site's name, "" for 421
	}{
		{true, "unknown.net", "", false, "D"},
		{false, "unknown.net", "", false, ""},
		{false, "", "", false, ""}, // HTTP/1.0 without Host, no default
		{false, "a.example.com", "", false, "A"},
		{false, "a.example.com", "a.example.com", true, "A"},
		{false, "x.example.com", "a.example.com", true, "A"},     // one server, two of its names
		{false, "A.EXAMPLE.COM:443", "a.example.com", true, "A"}, // compared as names
		{false, "b.example.com", "a.example.com", true, ""},      // coalesced onto A's connection
		{true, "b.example.com", "a.example.com", true, ""},       // the default does not change that
		{true, "a.example.com", "unknown.net", true, ""},         // SNI chose the default, Host names A
		{true, "other.net", "unknown.net", true, "D"},            // both the default
		{false, "b.example.com", "", true, "B"},                  // no SNI (an IP address): the Host decides
		{false, "b.example.com", "b.example.com.", true, "B"},    //
		{true, "d.example.org", "127.0.0.1", true, ""},           //
		{false, "[::1]:8443", "b.example.com", true, "B"},        //
		{false, "x.b.example.com", "y.b.example.com", true, "B"}, //
		{false, "x.b.example.com", "y.example.com", true, ""},    // different wildcards, different servers
	} {
		rt, _, _, _ := testRouter(c.withDefault)
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = c.host
		if c.tls {
			r.TLS = &tls.ConnectionState{ServerName: c.sni}
		}
		got := ""
		if s := rt.route(r); s != nil {
			got = s.name
		}
		if got != c.want {
			t.Errorf("default=%v Host %q SNI %q: routed to %q, want %q", c.withDefault, c.host, c.sni, got, c.want)
		}
	}
	// Without edge.servers, every Host (and SNI) goes to edge.locations.
	single := &router{}
	only := &site{}
	single.add(ServerConfig{Default: true}, only)
	r := httptest.NewRequest("GET", "/", nil)
	r.Host, r.TLS = "anything", &tls.ConnectionState{ServerName: "else"}
	if single.route(r) != only {
		t.Error("without servers a request must reach edge.locations whatever its Host")
	}
}

// The order locations are tried in, and what each matches.
func TestLocationMatching(t *testing.T) {
	cfgs := []LocationConfig{
		{Path: "/"},
		{Path: "/api/", Methods: []string{"get"}},
		{Path: "/api/", Header: &HeaderMatch{Name: "x-api-version", Value: "2"}},
		{Path: "/api/"},
		{Path: "= /api/"},
		{Path: "=/login", Methods: []string{"POST"}},
		{Path: "/api/v1/", Header: &HeaderMatch{Name: "X-Canary"}},
		{Path: "/static/", Methods: []string{"GET", "HEAD"}},
	}
	names := []string{"root", "api-get", "api-v2", "api", "api-exact", "login-post", "canary", "static"}
	s := &site{}
	for i, lc := range cfgs {
		s.locations = append(s.locations, newLocation(lc, "", http.HandlerFunc(nil)))
		s.locations[i].label = names[i]
	}
	sortLocations(s.locations)
	for _, c := range []struct {
		method, path string
		header       http.Header
		want         string
	}{
		{"GET", "/api/x", nil, "api-get"}, // conditions in the order written
		{"HEAD", "/api/x", nil, "api-get"},
		{"POST", "/api/x", http.Header{"X-Api-Version": {"2"}}, "api-v2"},
		{"POST", "/api/x", http.Header{"X-Api-Version": {"1", "2"}}, "api-v2"}, // any of the lines
		{"POST", "/api/x", http.Header{"X-Api-Version": {"3"}}, "api"},         // falls through
		{"POST", "/api/x", nil, "api"},
		{"GET", "/api/", nil, "api-exact"}, // exact before every prefix
		{"GET", "/api", nil, "root"},
		{"POST", "/login", nil, "login-post"},
		{"GET", "/login", nil, "root"}, // an exact location's method falls through to the prefixes
		{"GET", "/login/", nil, "root"},
		{"GET", "/api/v1/z", http.Header{"X-Canary": {"yes"}}, "canary"},
		{"GET", "/api/v1/z", http.Header{"X-Canary": {""}}, "canary"}, // present, any value
		{"POST", "/api/v1/z", nil, "api"},                             // to the next-longest prefix
		{"GET", "/apix", nil, "root"},
		{"DELETE", "/static/a.css", nil, "root"},
		{"HEAD", "/static/a.css", nil, "static"},
	} {
		r := httptest.NewRequest(c.method, c.path, nil)
		for k, v := range c.header {
			r.Header[k] = v
		}
		got := "none"
		if l := s.match(c.path, r); l != nil {
			got = l.label
		}
		if got != c.want {
			t.Errorf("%s %s %v: %s, want %s", c.method, c.path, c.header, got, c.want)
		}
	}
	// The common request costs no allocation to route and match.
	rt, _, _, _ := testRouter(true)
	r := httptest.NewRequest("GET", "/api/v1/z", nil)
	r.Host = "x.b.example.com:8000"
	r.TLS = &tls.ConnectionState{ServerName: "x.b.example.com"}
	if n := testing.AllocsPerRun(100, func() {
		if rt.route(r) == nil || s.match(r.URL.Path, r) == nil {
			t.Fatal("no match")
		}
	}); n != 0 {
		t.Errorf("route and match allocate %v times per request", n)
	}
}

// BenchmarkRouteAndMatch is what choosing the server and the location
// costs a request: a wildcard name with a port, a prefix location behind
// an exact one and a conditional one.
func BenchmarkRouteAndMatch(b *testing.B) {
	rt, _, _, _ := testRouter(true)
	s := &site{}
	for _, lc := range []LocationConfig{{Path: "/"}, {Path: "= /favicon.ico"}, {Path: "/api/", Methods: []string{"POST"}}, {Path: "/api/"}} {
		s.locations = append(s.locations, newLocation(lc, "", nil))
	}
	sortLocations(s.locations)
	r := httptest.NewRequest("GET", "/api/items/1", nil)
	r.Host = "x.b.example.com:8000"
	b.ReportAllocs()
	for b.Loop() {
		if rt.route(r) == nil || s.match(r.URL.Path, r) == nil {
			b.Fatal("no match")
		}
	}
}

func lookup(rt *router, host string) *site {
	s, _ := rt.names.Lookup(host)
	return s
}
