package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/edge"
)

type testSettings struct {
	Debug     bool   `yaml:"debug"`
	SecretKey string `yaml:"secret_key"`
	Database  string `yaml:"database"`
	// SessionCookieAge is a number under a name with "cookie" in it.
	SessionCookieAge int `yaml:"session_cookie_age"`
}

func (s *testSettings) Validate() error {
	if !s.Debug && s.SecretKey == "" {
		return errors.New("secret_key is required when debug is false")
	}
	return nil
}

var testApps = map[string]func() any{
	"polls": func() any { return &testSettings{Debug: true} },
	"hello": nil,
	"echo":  nil,
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stack.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefaultsWithoutFile(t *testing.T) {
	t.Chdir(t.TempDir())
	f, err := Load(Options{Apps: testApps})
	if err != nil {
		t.Fatal(err)
	}
	if f.Source != "built-in defaults" || f.Mode != "inprocess" || f.Appserver.App != "polls" {
		t.Errorf("source %q mode %q app %q", f.Source, f.Mode, f.Appserver.App)
	}
	if got := f.Edge.Upstreams["app"].Servers; !reflect.DeepEqual(got, []string{"unix:run/app.sock"}) {
		t.Errorf("default upstream servers %v", got)
	}
	if f.Edge.ClientMaxBodySize != 1<<20 || f.ShutdownTimeout != 10*time.Second {
		t.Errorf("defaults: body %v shutdown %v", f.Edge.ClientMaxBodySize, f.ShutdownTimeout)
	}
	if s, ok := f.Apps["polls"].(*testSettings); !ok || !s.Debug {
		t.Errorf("apps.polls = %#v, want the defaults", f.Apps["polls"])
	}
}

func TestExplicitMissingFileIsAnError(t *testing.T) {
	_, err := Load(Options{Path: filepath.Join(t.TempDir(), "nope.yaml")})
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("err = %v", err)
	}
}

func TestFileEnvAndSetPrecedence(t *testing.T) {
	path := writeFile(t, `
run_dir: /tmp/x
shutdown_timeout: 3s
edge:
  listen: ["127.0.0.1:9001"]
  client_max_body_size: 2MiB
  locations:
    - {path: /, upstream: api}
  upstreams:
    api:
      servers: ["unix:/tmp/x/api.sock", "127.0.0.1:3031"]
      read_timeout: 2s
appserver:
  app: echo
  socket_mode: "0600"
apps:
  polls:
    secret_key: from-file
`)
	t.Setenv("STACK_SHUTDOWN_TIMEOUT", "7s")
	t.Setenv("STACK_EDGE_LISTEN", "127.0.0.1:9002,127.0.0.1:9003")
	t.Setenv("STACK_APPS_POLLS_DATABASE", "/tmp/env.db")
	t.Setenv("STACK_APPSERVER_THREADS", "4")
	f, err := Load(Options{Path: path, Apps: testApps, Set: []string{"appserver.threads=8", "edge.access_log=stderr"}})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"run_dir from file", f.RunDir, "/tmp/x"},
		{"shutdown_timeout from env", f.ShutdownTimeout, 7 * time.Second},
		{"listen from env", f.Edge.Listen, []string{"127.0.0.1:9002", "127.0.0.1:9003"}},
		{"body size", f.Edge.ClientMaxBodySize, edge.ByteSize(2 << 20)},
		{"threads from --set over env", f.Appserver.Threads, 8},
		{"access_log from --set", f.Edge.AccessLog, "stderr"},
		{"socket mode", f.Appserver.SocketMode, os.FileMode(0o600)},
		{"upstreams replaced wholesale", len(f.Edge.Upstreams), 1},
		{"upstream read_timeout", f.Edge.Upstreams["api"].ReadTimeout, 2 * time.Second},
		{"upstream keeps other defaults", f.Edge.Upstreams["api"].ConnectTimeout, 5 * time.Second},
		{"upstream protocol default", f.Edge.Upstreams["api"].Protocol, "uwsgi"},
		{"app setting from file", f.Apps["polls"].(*testSettings).SecretKey, "from-file"},
		{"app setting from env", f.Apps["polls"].(*testSettings).Database, "/tmp/env.db"},
		{"app setting default kept", f.Apps["polls"].(*testSettings).Debug, true},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestEveryProblemIsReported(t *testing.T) {
	path := writeFile(t, `
shutdown_timeout: 10 seconds
edge:
  listen_typo: ["x"]
  client_max_body_size: 1XB
  locations:
    - {path: static/, root: /srv}
    - {path: /, upstream: missing}
appserver:
  harakiri: 30
  socket_mode: 0999
apps:
  polls:
    debug: false
    colour: red
  unknownapp: {debug: true}
`)
	_, err := Load(Options{Path: path, Apps: testApps})
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *config.Error", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"stack.yaml: shutdown_timeout: \"10 seconds\" is not a duration",
		"stack.yaml: edge.listen_typo: unknown key (did you mean listen?)",
		"stack.yaml: edge.client_max_body_size: invalid size \"1XB\"",
		"stack.yaml: edge.locations[0].path: \"static/\" must start with /",
		"stack.yaml: edge.locations[1].upstream: \"missing\" is not defined",
		"stack.yaml: appserver.harakiri: 30 has no unit",
		"stack.yaml: appserver.socket_mode:",
		"stack.yaml: apps.polls.colour: unknown key",
		"stack.yaml: apps.unknownapp: no app of that name",
		"stack.yaml: apps.polls: secret_key is required when debug is false",
	} {
		if !strings.Contains(msg, strings.Replace(want, "stack.yaml", path, 1)) {
			t.Errorf("error does not contain %q:\n%s", want, msg)
		}
	}
}

func TestBadSetFlag(t *testing.T) {
	t.Chdir(t.TempDir())
	if _, err := Load(Options{Set: []string{"noequals"}}); err == nil || !strings.Contains(err.Error(), "key=value") {
		t.Errorf("err = %v", err)
	}
}

func TestYAMLRoundTrip(t *testing.T) {
	t.Chdir(t.TempDir())
	f, err := Load(Options{Apps: testApps, Set: []string{"edge.client_max_body_size=3MiB", "appserver.harakiri=1m30s"}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.YAML(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"client_max_body_size: 3MiB", "harakiri: 1m30s", `socket_mode: "0660"`, "mode: inprocess"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("YAML lacks %q:\n%s", want, out)
		}
	}
	path := writeFile(t, string(out))
	g, err := Load(Options{Path: path, Apps: testApps})
	if err != nil {
		t.Fatalf("reloading printed config: %v\n%s", err, out)
	}
	f.Source, g.Source = "", ""
	f.AdminGiven, g.AdminGiven = false, false             // the printed file names the admin keys
	f.DevelopmentDebug, g.DevelopmentDebug = false, false // the printed file says debug: true itself
	f.Held, g.Held = Held{}, Held{}                       // the text read: none, then the printed file
	if !reflect.DeepEqual(f, g) {
		t.Errorf("round trip changed the configuration:\n%#v\n%#v", f, g)
	}
}

// With no stack.yaml at all, an app runs in debug (development defaults,
// with a warning); any file leaves it off unless it says so, and a
// variable or --set overrides the development default.
func TestDevelopmentDefaultsOnlyWithoutAFile(t *testing.T) {
	offByDefault := map[string]func() any{"polls": func() any { return &testSettings{} }}
	t.Chdir(t.TempDir())
	f, err := Load(Options{Apps: offByDefault})
	if err != nil {
		t.Fatal(err)
	}
	if s := f.Apps["polls"].(*testSettings); !s.Debug {
		t.Error("no file: debug is off")
	}
	if !f.DevelopmentDebug {
		t.Error("no file: DevelopmentDebug not set, so no warning")
	}

	f, err = Load(Options{Apps: offByDefault, Set: []string{"apps.polls.debug=false", "apps.polls.secret_key=k"}})
	if err != nil {
		t.Fatal(err)
	}
	if s := f.Apps["polls"].(*testSettings); s.Debug || f.DevelopmentDebug {
		t.Errorf("no file, --set debug=false: debug %v, DevelopmentDebug %v", s.Debug, f.DevelopmentDebug)
	}

	f, err = Load(Options{Path: writeFile(t, "shutdown_timeout: 5s\n"), Apps: offByDefault, Set: []string{"apps.polls.secret_key=k"}})
	if err != nil {
		t.Fatal(err)
	}
	if s := f.Apps["polls"].(*testSettings); s.Debug {
		t.Error("a file that says nothing of debug turned it on")
	}
}
