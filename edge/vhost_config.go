package edge

import (
	"fmt"
	"strings"

	"github.com/stack-web/stack/edge/internal/hostmatch"
	"github.com/stack-web/stack/edge/internal/urlpath"
	"github.com/stack-web/stack/edge/tlscert"
)

// Virtual hosts in stack.yaml (edge.servers), as nginx's server blocks:
//
//	edge:
//	  servers:
//	    - names: [example.com, www.example.com]
//	      locations: [{path: /, upstream: app}]
//	    - names: ["*.example.org"]
//	      tls: internal
//	      client_max_body_size: 10MiB
//	      locations: [{path: /, upstream: other}]
//
// Without servers, edge.locations serve every request whatever its Host,
// as they always did. With servers, edge.locations (if any) are the
// implicit default server: the one that takes a Host no server names. A
// server may instead say default: true (nginx's listen ... default_server),
// and then edge.locations must be empty. With no default server at all, a
// Host no server names gets 421 Misdirected Request.

// ServerConfig is one virtual host: the names it answers to and its own
// locations, limits and certificate.
type ServerConfig struct {
	// Names are the Host names the server answers: exact (example.com) or
	// with a leading wildcard (*.example.com matches a.example.com and
	// a.b.example.com, not example.com). Case and a trailing dot do not
	// matter; an IP address is a name too.
	Names []string `yaml:"names"`
	// Default makes this server take the requests whose Host no server
	// names (and requests without a Host). At most one server is default.
	Default bool `yaml:"default"`
	// Locations are the server's own, matched as edge.locations are.
	Locations []LocationConfig `yaml:"locations"`
	// TLS is the server's certificate, chosen by SNI; unset: edge.tls.
	TLS tlscert.Config `yaml:"tls"`
	// ClientMaxBodySize overrides edge.client_max_body_size; null follows it.
	ClientMaxBodySize *ByteSize `yaml:"client_max_body_size"`
	// ClientBodyBufferSize overrides edge.client_body_buffer_size.
	ClientBodyBufferSize *ByteSize `yaml:"client_body_buffer_size"`
	// Buffering overrides edge.buffering for the server's locations (a
	// location's own buffering still wins).
	Buffering *bool `yaml:"buffering"`
}

// HeaderMatch limits a location to the requests that carry a header.
type HeaderMatch struct {
	// Name is the header's name, in any case.
	Name string `yaml:"name"`
	// Value, if set, is the value one of the header's lines must have
	// exactly; "" accepts any value.
	Value string `yaml:"value"`
}

// ServerTLS is one server's names and certificate setting, for the
// certificate manager: a TLS handshake's SNI picks among them as the Host
// picks the server (exact name, then the longest wildcard, then the default).
type ServerTLS struct {
	// Names are normalised: lower case, no trailing dot, "*.example.com"
	// for a wildcard, "[::1]" for an IPv6 address.
	Names   []string
	Default bool
	// TLS is the zero Config when the server has no certificate of its own.
	TLS tlscert.Config
}

// ServerTLS lists the configured servers' names and certificates, in
// order. It is empty without edge.servers.
func (c *Config) ServerTLS() []ServerTLS {
	var out []ServerTLS
	for _, sc := range c.Servers {
		st := ServerTLS{Default: sc.Default, TLS: sc.TLS}
		for _, n := range sc.Names {
			if norm, err := hostmatch.ParseName(n); err == nil {
				st.Names = append(st.Names, norm)
			}
		}
		out = append(out, st)
	}
	return out
}

// EachLocation calls fn with every location, top-level and of every
// server, and its key under "edge." (locations[0], servers[1].locations[0]).
func (c *Config) EachLocation(fn func(key string, lc LocationConfig)) {
	for i, lc := range c.Locations {
		fn(fmt.Sprintf("locations[%d]", i), lc)
	}
	for i, sc := range c.Servers {
		for j, lc := range sc.Locations {
			fn(fmt.Sprintf("servers[%d].locations[%d]", i, j), lc)
		}
	}
}

// sites returns what the router serves: with no servers, one default site
// of edge.locations; else the implicit default server (edge.locations, if
// any) first, then the servers.
func (c *Config) sites() []ServerConfig {
	var out []ServerConfig
	if len(c.Locations) > 0 || len(c.Servers) == 0 {
		out = append(out, ServerConfig{Default: true, Locations: c.Locations})
	}
	return append(out, c.Servers...)
}

// forServer returns the edge's settings with sc's overrides.
func (c Config) forServer(sc ServerConfig) Config {
	if sc.ClientMaxBodySize != nil {
		c.ClientMaxBodySize = *sc.ClientMaxBodySize
	}
	if sc.ClientBodyBufferSize != nil {
		c.ClientBodyBufferSize = *sc.ClientBodyBufferSize
	}
	if sc.Buffering != nil {
		c.Buffering = *sc.Buffering
	}
	return c
}

// validateSites checks edge.locations and edge.servers.
func (c *Config) validateSites(bad func(key, format string, args ...any)) {
	if len(c.Locations) == 0 && len(c.Servers) == 0 {
		bad("locations", "none configured; add one, e.g. {path: /, upstream: app}")
	}
	c.validateLocations("locations", c.Locations, bad)
	names := map[string]string{} // normalised name → the key that gave it
	defaultKey := ""
	for i, sc := range c.Servers {
		key := fmt.Sprintf("servers[%d]", i)
		if len(sc.Names) == 0 && !sc.Default {
			bad(key+".names", "none; give the Host names this server answers (e.g. [example.com, \"*.example.com\"]), or default: true")
		}
		for j, n := range sc.Names {
			nkey := fmt.Sprintf("%s.names[%d]", key, j)
			norm, err := hostmatch.ParseName(n)
			if err != nil {
				bad(nkey, "%v", err)
				continue
			}
			if prev, dup := names[norm]; dup {
				bad(nkey, "%q is also edge.%s; a name belongs to one server", n, prev)
				continue
			}
			names[norm] = nkey
		}
		if sc.Default {
			switch {
			case defaultKey != "":
				bad(key+".default", "edge.%s is already the default server; only one server takes unknown hosts", defaultKey)
			case len(c.Locations) > 0:
				bad(key+".default", "edge.locations (%d) already form the implicit default server; move them into a server, or drop default: true", len(c.Locations))
			default:
				defaultKey = key + ".default"
			}
		}
		if len(sc.Locations) == 0 {
			bad(key+".locations", "none configured; add one, e.g. {path: /, upstream: app}")
		}
		c.validateLocations(key+".locations", sc.Locations, bad)
		if sc.ClientMaxBodySize != nil && *sc.ClientMaxBodySize <= 0 {
			bad(key+".client_max_body_size", "must be positive, e.g. 1MiB (null follows edge.client_max_body_size)")
		}
		if sc.ClientBodyBufferSize != nil && *sc.ClientBodyBufferSize <= 0 {
			bad(key+".client_body_buffer_size", "must be positive, e.g. 64KiB (null follows edge.client_body_buffer_size)")
		}
		for _, err := range sc.TLS.Validate(key + ".tls") {
			k, msg, _ := strings.Cut(err.Error(), ": ")
			bad(k, "%s", msg)
		}
	}
}

// validateLocations checks one list of locations, named list.
func (c *Config) validateLocations(list string, locs []LocationConfig, bad func(key, format string, args ...any)) {
	seen := map[string]int{}
	for i, l := range locs {
		key := fmt.Sprintf("%s[%d]", list, i)
		path, exact := splitLocationPath(l.Path)
		switch {
		case path == "" || path[0] != '/':
			bad(key+".path", "%q must start with / (or be \"= /path\" for an exact match)", l.Path)
		case strings.Contains(path, "/../") || strings.HasSuffix(path, "/.."):
			bad(key+".path", "%q contains ..", l.Path)
		default:
			// A request's path is matched once normalised (edge.go): a
			// location written otherwise would silently match nothing.
			if n, ok := urlpath.Normalize(path); !ok || n != path {
				bad(key+".path", "%q never matches: a request's path is matched with repeated slashes merged and . segments resolved; write %q", l.Path, n)
			}
		}
		for j, m := range l.Methods {
			if m == "" || strings.IndexFunc(m, func(r rune) bool { return !isTokenChar(r) }) >= 0 {
				bad(fmt.Sprintf("%s.methods[%d]", key, j), "%q is not a method such as GET or POST", m)
			}
		}
		if h := l.Header; h != nil {
			switch {
			case h.Name == "" || strings.IndexFunc(h.Name, func(r rune) bool { return !isTokenChar(r) }) >= 0:
				bad(key+".header.name", "%q is not a header name such as X-Api-Version", h.Name)
			case strings.EqualFold(h.Name, "Host"):
				bad(key+".header.name", "the Host is matched by edge.servers[].names, not by a location")
			}
		}
		// Two locations may share a path when their conditions differ.
		sig := fmt.Sprintf("%t %s %s %v", exact, path, strings.ToUpper(strings.Join(l.Methods, ",")), l.Header)
		if j, dup := seen[sig]; dup {
			bad(key+".path", "%q is also the path of edge.%s[%d], with the same methods and header", l.Path, list, j)
		}
		seen[sig] = i
		switch {
		case l.Root != "" && l.Upstream != "":
			bad(key, "has both root and upstream; a location either serves files or proxies")
		case l.Root == "" && l.Upstream == "":
			bad(key, "has neither root nor upstream")
		case l.Upstream != "":
			if _, ok := c.Upstreams[l.Upstream]; !ok {
				bad(key+".upstream", "%q is not defined under edge.upstreams (defined: %s)", l.Upstream, strings.Join(sortedKeys(c.Upstreams), ", "))
			}
		}
	}
}

// splitLocationPath reads a location's path: "= /x" is the exact path /x.
func splitLocationPath(p string) (path string, exact bool) {
	if rest, ok := strings.CutPrefix(p, "="); ok {
		return strings.TrimSpace(rest), true
	}
	return p, false
}

// isTokenChar reports whether r may appear in an HTTP token (RFC 9110).
func isTokenChar(r rune) bool {
	return r < 0x7f && r > 0x20 && !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
}
