package edge_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/edge/tlscert"
)

func vhostConfig(servers ...edge.ServerConfig) edge.Config {
	cfg := proxyConfig("unix:/nonexistent.sock")
	cfg.Locations = nil
	cfg.Servers = servers
	return cfg
}

func server(def bool, names ...string) edge.ServerConfig {
	return edge.ServerConfig{Names: names, Default: def, Locations: []edge.LocationConfig{{Path: "/", Upstream: "app"}}}
}

func TestServersValidation(t *testing.T) {
	size := func(n edge.ByteSize) *edge.ByteSize { return &n }
	withLocations := func(s edge.ServerConfig, locs ...edge.LocationConfig) edge.ServerConfig {
		s.Locations = locs
		return s
	}
	for _, c := range []struct {
		name string
		cfg  edge.Config
		want []string // substrings of the error, "" for none
	}{
		{"valid", vhostConfig(server(false, "a.example.com", "*.example.com", "127.0.0.1", "[::1]"), server(true)), nil},
		{"two defaults", vhostConfig(server(true, "a.test"), server(true, "b.test")), []string{"edge.servers[1].default: edge.servers[0].default is already the default server"}},
		{"duplicate names across servers", vhostConfig(server(false, "a.test"), server(false, "A.Test.")), []string{`edge.servers[1].names[0]: "A.Test." is also edge.servers[0].names[0]`}},
		{"duplicate wildcard", vhostConfig(server(false, "*.test", "*.TEST")), []string{`edge.servers[0].names[1]: "*.TEST" is also edge.servers[0].names[0]`}},
		{"bad names", vhostConfig(server(false, "a.*.com", "www.example.*", "*", "_", ".example.com", "a.test:80", "a..test", "", "*.", "a b.test")), []string{
			`names[0]: "a.*.com": only a leading wildcard`, `names[1]: "www.example.*": only a leading wildcard`,
			`names[2]: "*" matches no Host; the server that takes every unknown host says default: true`, `names[3]: "_" matches no Host`,
			`names[4]: ".example.com": write example.com and *.example.com`, `names[5]: "a.test:80": a name has no port`,
			`names[6]: "a..test" has an empty label`, `names[7]: is empty`, `names[8]: "*." matches no Host`,
			`names[9]: "a b.test": ' ' is not allowed`,
		}},
		{"no names, not default", vhostConfig(server(false)), []string{"edge.servers[0].names: none; give the Host names"}},
		{"no locations", vhostConfig(withLocations(server(false, "a.test"))), []string{"edge.servers[0].locations: none configured"}},
		{"default beside edge.locations", func() edge.Config {
			c := vhostConfig(server(true, "a.test"))
			c.Locations = []edge.LocationConfig{{Path: "/", Upstream: "app"}}
			return c
		}(), []string{"edge.servers[0].default: edge.locations (1) already form the implicit default server"}},
		{"edge.locations beside named servers", func() edge.Config {
			c := vhostConfig(server(false, "a.test"))
			c.Locations = []edge.LocationConfig{{Path: "/", Upstream: "app"}}
			return c
		}(), nil},
		{"nothing at all", vhostConfig(), []string{"edge.locations: none configured"}},
		{"server limits", func() edge.Config {
			s := server(false, "a.test")
			s.ClientMaxBodySize, s.ClientBodyBufferSize = size(0), size(-1)
			return vhostConfig(s)
		}(), []string{"edge.servers[0].client_max_body_size: must be positive", "edge.servers[0].client_body_buffer_size: must be positive"}},
		{"server tls", func() edge.Config {
			s := server(false, "a.test")
			s.TLS = tlscert.Config{CertFile: "a.pem"}
			c := vhostConfig(s)
			c.TLSListen = []string{"127.0.0.1:8443"} // a server's tls needs it (tls.go)
			return c
		}(), []string{"edge.servers[0].tls.key_file: missing"}},
		{"location conditions", vhostConfig(withLocations(server(false, "a.test"),
			edge.LocationConfig{Path: "= x", Upstream: "app"},
			edge.LocationConfig{Path: "/a/", Upstream: "app", Methods: []string{"GE T"}},
			edge.LocationConfig{Path: "/b/", Upstream: "app", Header: &edge.HeaderMatch{Name: "host", Value: "a"}},
			edge.LocationConfig{Path: "/c/", Upstream: "app", Header: &edge.HeaderMatch{Name: "X:Y"}},
			edge.LocationConfig{Path: "/", Upstream: "app", Methods: []string{"GET"}},
			edge.LocationConfig{Path: "/", Upstream: "app"},
			edge.LocationConfig{Path: "/", Upstream: "app", Methods: []string{"GET"}},
			edge.LocationConfig{Path: "= /", Upstream: "app"},
		)), []string{
			`edge.servers[0].locations[0].path: "= x" must start with /`,
			`edge.servers[0].locations[1].methods[0]: "GE T" is not a method`,
			`edge.servers[0].locations[2].header.name: the Host is matched by edge.servers[].names`,
			`edge.servers[0].locations[3].header.name: "X:Y" is not a header name`,
			`edge.servers[0].locations[6].path: "/" is also the path of edge.servers[0].locations[4], with the same methods and header`,
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			var msgs []string
			if err != nil {
				msgs = strings.Split(err.Error(), "\n")
			}
			for _, w := range c.want {
				if !slices.ContainsFunc(msgs, func(m string) bool { return strings.Contains(m, w) }) {
					t.Errorf("no error containing %q in:\n%s", w, strings.Join(msgs, "\n"))
				}
			}
			if len(msgs) != len(c.want) {
				t.Errorf("%d errors, want %d:\n%s", len(msgs), len(c.want), strings.Join(msgs, "\n"))
			}
		})
	}
}

// ServerTLS is what the certificate manager gets: each server's names,
// normalised as the router compares them, and its tls setting.
func TestServerTLSList(t *testing.T) {
	a := server(false, "A.example.com.", "*.Example.com", "::1")
	a.TLS = tlscert.Config{Internal: true}
	cfg := vhostConfig(a, server(true))
	got := cfg.ServerTLS()
	if len(got) != 2 || !slices.Equal(got[0].Names, []string{"a.example.com", "*.example.com", "[::1]"}) ||
		!got[0].TLS.Internal || got[0].Default || !got[1].Default || !got[1].TLS.IsZero() {
		t.Errorf("ServerTLS() = %+v", got)
	}
}
