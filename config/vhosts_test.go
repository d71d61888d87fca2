package config

import (
	"os"
	"strings"
	"testing"
)

// edge.servers loads from the file and the environment, drops the
// built-in location (it would form an implicit default server), is
// explained key by key, and check names every problem under its key with
// its line.
func TestServersLoadExplainAndCheck(t *testing.T) {
	t.Chdir(t.TempDir())
	os.Mkdir("a", 0o755)
	os.WriteFile("stack.yaml", []byte(`edge:
  servers:
    - names: [a.example.com, "*.a.example.com"]
      client_max_body_size: 8MiB
      tls: internal
      locations:
        - {path: "= /robots.txt", root: a}
        - {path: /, upstream: app, methods: [GET, POST]}
    - default: true
      locations: [{path: /, upstream: app, header: {name: X-Canary, value: "1"}}]
  tls_listen: ["127.0.0.1:8443"]
`), 0o644)
	f, settings, err := Explain(Options{Apps: testApps}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Edge.Servers) != 2 || len(f.Edge.Locations) != 0 || !f.Edge.Servers[0].TLS.Internal ||
		*f.Edge.Servers[0].ClientMaxBodySize != 8<<20 || f.Edge.Servers[1].Locations[0].Header.Name != "X-Canary" {
		t.Errorf("loaded %+v, locations %+v", f.Edge.Servers, f.Edge.Locations)
	}
	got := map[string]Setting{}
	for _, s := range settings {
		got[s.Key] = s
	}
	for key, want := range map[string]Setting{
		"edge.servers[0].names":                     {Value: "[a.example.com, '*.a.example.com']", Origin: "stack.yaml:3"},
		"edge.servers[0].tls":                       {Value: "internal", Origin: "stack.yaml:5"},
		"edge.servers[0].client_max_body_size":      {Value: "8MiB", Origin: "stack.yaml:4"},
		"edge.servers[0].locations[0].path":         {Value: "= /robots.txt", Origin: "stack.yaml:7"},
		"edge.servers[0].locations[1].methods":      {Value: "[GET, POST]", Origin: "stack.yaml:8"},
		"edge.servers[1].default":                   {Value: "true", Origin: "stack.yaml:9"},
		"edge.servers[1].names":                     {Value: "[]", Origin: "default"},
		"edge.servers[1].buffering":                 {Value: "null", Origin: "default"},
		"edge.servers[1].locations[0].header.value": {Value: `"1"`, Origin: "stack.yaml:10"},
		"edge.locations":                            {Value: "[]", Origin: "follows edge.servers (stack.yaml:3)"},
	} {
		if g := got[key]; g.Value != want.Value || g.Origin != want.Origin {
			t.Errorf("%s: %q from %q, want %q from %q", key, g.Value, g.Origin, want.Value, want.Origin)
		}
	}
	out, err := f.YAML(false)
	if err != nil || !strings.Contains(string(out), "servers:\n        - names: [a.example.com, '*.a.example.com']") {
		t.Errorf("config shows:\n%s (%v)", out, err)
	}

	// From the environment, as a list written in YAML.
	t.Setenv("STACK_EDGE_SERVERS", "[{names: [b.test], locations: [{path: /, upstream: app}]}]")
	t.Setenv("STACK_EDGE_TLS_LISTEN", "[]") // no server has tls any more
	f, msg := loadErr(t, Options{Apps: testApps})
	if msg != "" || len(f.Edge.Servers) != 1 || f.Edge.Servers[0].Names[0] != "b.test" {
		t.Errorf("STACK_EDGE_SERVERS: %+v %s", f, msg)
	}
	os.Unsetenv("STACK_EDGE_SERVERS")
	os.Unsetenv("STACK_EDGE_TLS_LISTEN")

	// Every problem, under its key, with where it was written.
	os.WriteFile("stack.yaml", []byte(`edge:
  locations: [{path: /, upstream: app}]
  servers:
    - names: [a.*.com, b.test]
      default: true
      locations: [{path: /s/, root: /nonexistent}]
    - names: [B.test.]
      locations: [{path: /, upstream: app}]
`), 0o644)
	_, msg = loadErr(t, Options{Apps: testApps})
	for _, want := range []string{
		`stack.yaml: edge.servers[0].names[0]: "a.*.com": only a leading wildcard is supported`,
		`stack.yaml: edge.servers[0].default: edge.locations (1) already form the implicit default server`,
		`stack.yaml: edge.servers[1].names[0]: "B.test." is also edge.servers[0].names[1]`,
		`stack.yaml: edge.servers[0].locations[0].root: stat /nonexistent`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("no %q in:\n%s", want, msg)
		}
	}
}
