package config

import (
	"os"
	"testing"
)

// Explain names the file and line of a value set in the file, the
// variable or flag of one set by them, "default" for the rest, and what
// a derived value follows; secrets stay redacted.
func TestExplainNamesEachValuesOrigin(t *testing.T) {
	t.Chdir(t.TempDir())
	os.WriteFile("stack.yaml", []byte(`# a comment
run_dir: data
edge:
  listen: ["127.0.0.1:9000"]
  locations:
    - path: /
      upstream: app
apps:
  polls:
    secret_key: s3cret
`), 0o644)
	t.Setenv("STACK_EDGE_CLIENT_MAX_BODY_SIZE", "2MiB")
	t.Setenv("STACK_PROCESSES", "[{name: worker, command: [sh, -c, 'sleep 1']}]")
	opts := Options{Set: []string{"appserver.threads=4"}, Apps: map[string]func() any{"polls": func() any {
		return &struct {
			SecretKey string `yaml:"secret_key"`
			Debug     bool   `yaml:"debug"`
		}{}
	}}}
	_, settings, err := Explain(opts, false)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Setting{}
	for _, s := range settings {
		got[s.Key] = s
	}
	for key, want := range map[string]Setting{
		"run_dir":                    {Value: "data", Origin: "stack.yaml:2"},
		"edge.listen":                {Value: "['127.0.0.1:9000']", Origin: "stack.yaml:4"},
		"edge.locations[0].upstream": {Value: "app", Origin: "stack.yaml:7"},
		"edge.locations[0].root":     {Value: `""`, Origin: "default"},
		"edge.client_max_body_size":  {Value: "2MiB", Origin: "STACK_EDGE_CLIENT_MAX_BODY_SIZE"},
		"processes[0].name":          {Value: "worker", Origin: "STACK_PROCESSES"},
		"processes[0].restart":       {Value: "always", Origin: "STACK_PROCESSES"},
		"appserver.threads":          {Value: "4", Origin: "--set appserver.threads"},
		"shutdown_timeout":           {Value: "10s", Origin: "default"},
		"appserver.listen":           {Value: "unix:data/app.sock", Origin: "follows run_dir (stack.yaml:2)"},
		"apps.polls.secret_key":      {Value: "'" + redacted + "'", Origin: "stack.yaml:10"},
		"apps.polls.debug":           {Value: "false", Origin: "default"},
	} {
		g := got[key]
		if g.Value != want.Value || g.Origin != want.Origin {
			t.Errorf("%s: %q from %q, want %q from %q", key, g.Value, g.Origin, want.Value, want.Origin)
		}
	}
	_, settings, _ = Explain(opts, true)
	for _, s := range settings {
		if s.Key == "apps.polls.secret_key" && s.Value != "s3cret" {
			t.Errorf("show secrets: %q", s.Value)
		}
	}
}
