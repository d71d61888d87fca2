package edge_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/edge/limit"
)

// A virtual host's location's limits are validated as edge.locations'
// are: they were not, so a rate_limit with no rate, a negative burst,
// status 200 and a header key without trusted proxies passed stack check
// and answered every request 200 with an empty body.
func TestBrkLimitsValidatedInServers(t *testing.T) {
	cfg := proxyConfig("unix:/nonexistent.sock")
	loc := cfg.Locations[0]
	loc.RateLimit = &limit.RateConfig{Burst: -3, Key: "header:X-Real-IP", Status: 200}
	loc.LimitConn = &limit.ConnConfig{Status: 302}
	cfg.Servers = []edge.ServerConfig{{Names: []string{"a.test"}, Default: true, Locations: []edge.LocationConfig{loc}}}
	cfg.Locations = nil
	err := cfg.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"edge.servers[0].locations[0].rate_limit.rate: missing", "edge.servers[0].locations[0].rate_limit.burst: -3",
		"edge.servers[0].locations[0].rate_limit.status: 200", "edge.servers[0].locations[0].rate_limit.key",
		"edge.servers[0].locations[0].limit_conn.max", "edge.servers[0].locations[0].limit_conn.status: 302",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no %q in:\n%v", want, err)
		}
	}
}

// A client a trusted proxy names as an IPv4-mapped IPv6 address is the
// same client as its IPv4 address: it was a key of its own, so a proxy
// that writes either form doubled the client's rate.
func TestBrkRateLimitForwardedClientMapped(t *testing.T) {
	cfg := httpApp(t, http.HandlerFunc(okHandler))
	cfg.TrustedProxies = []string{"127.0.0.1"}
	cfg.RateLimit = rate(t, "1r/m", 0)
	_, addr := limitsEdge(t, cfg, nil)
	for _, c := range []struct {
		header string
		want   int
	}{
		{"X-Forwarded-For: 192.0.2.1\r\n", 200},
		{"X-Forwarded-For: ::ffff:192.0.2.1\r\n", 429},
		{"X-Forwarded-For: ::FFFF:c000:0201\r\n", 429},
	} {
		if got := rawFrom(t, "127.0.0.1", addr, "/", c.header).StatusCode; got != c.want {
			t.Errorf("with %q: %d, want %d", c.header, got, c.want)
		}
	}
}
