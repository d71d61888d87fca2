package config

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/internal/envnames"
)

// loadErr loads and returns the problems as one string ("" when valid).
func loadErr(t *testing.T, opts Options) (*File, string) {
	t.Helper()
	if opts.Apps == nil {
		opts.Apps = testApps
	}
	f, err := Load(opts)
	if err == nil {
		return f, ""
	}
	var ce *Error
	if !errors.As(err, &ce) {
		return nil, err.Error()
	}
	return nil, err.Error()
}

// Issue 16 item 1: a list or a scalar under apps: was dropped, and polls
// ran with its debug defaults.
func TestAppsAsListOrScalarIsRefused(t *testing.T) {
	for _, body := range []string{
		"apps:\n  - polls:\n      debug: false\n",
		"apps: polls\n",
	} {
		path := writeFile(t, body)
		_, msg := loadErr(t, Options{Path: path})
		if !strings.Contains(msg, path+": apps: expected a mapping of app names") {
			t.Errorf("%q: err = %q", body, msg)
		}
	}
}

// Issue 16 item 4: STACK_EDGE_UPSTREAMS_APP_SERVERS was ignored without a
// file, --set edge.upstreams.app.read_timeout replaced the default
// upstream, and STACK_PROCESSES was ignored.
func TestEveryKeyFromEverySource(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("STACK_EDGE_UPSTREAMS_APP_SERVERS", "unix:/tmp/a.sock 127.0.0.1:3031")
	t.Setenv("STACK_EDGE_UPSTREAMS_MY_API_READ_TIMEOUT", "7s")
	t.Setenv("STACK_EDGE_CLIENT_MAX_BODY_SIZE", "2MiB")
	t.Setenv("STACK_APPS_POLLS_SECRET_KEY", "s3")
	t.Setenv("STACK_PROCESSES", `[{name: worker, command: [sh, -c, "echo hello world"]}]`)
	f, msg := loadErr(t, Options{Set: []string{"edge.upstreams.app.connect_timeout=2s", "edge.upstreams.my_api.servers=127.0.0.1:9"}})
	if msg != "" {
		t.Fatal(msg)
	}
	app := f.Edge.Upstreams["app"]
	checks := []struct {
		name      string
		got, want any
	}{
		{"env servers without a file", app.Servers, []string{"unix:/tmp/a.sock", "127.0.0.1:3031"}},
		{"--set keeps the rest of the default upstream", app.ConnectTimeout, 2 * time.Second},
		{"default read_timeout kept", app.ReadTimeout, 60 * time.Second},
		{"protocol kept", app.Protocol, "uwsgi"},
		{"an upstream whose name has an underscore", f.Edge.Upstreams["my_api"].ReadTimeout, 7 * time.Second},
		{"and its servers from --set", f.Edge.Upstreams["my_api"].Servers, []string{"127.0.0.1:9"}},
		{"a key with underscores", int64(f.Edge.ClientMaxBodySize), int64(2 << 20)},
		{"an app setting", f.Apps["polls"].(*testSettings).SecretKey, "s3"},
		{"STACK_PROCESSES", f.Processes, []Process{{Name: "worker", Command: []string{"sh", "-c", "echo hello world"}, Restart: "always"}}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

// An environment variable merges into the file's upstream as --set does.
func TestEnvMergesIntoTheFilesUpstream(t *testing.T) {
	path := writeFile(t, `
edge:
  locations: [{path: /, upstream: MyApp}]
  upstreams:
    MyApp: {servers: ["unix:/tmp/x.sock"], read_timeout: 3s}
`)
	t.Setenv("STACK_EDGE_UPSTREAMS_MYAPP_CONNECT_TIMEOUT", "1s")
	f, msg := loadErr(t, Options{Path: path})
	if msg != "" {
		t.Fatal(msg)
	}
	u := f.Edge.Upstreams["MyApp"]
	if u.ConnectTimeout != time.Second || u.ReadTimeout != 3*time.Second || len(u.Servers) != 1 || len(f.Edge.Upstreams) != 1 {
		t.Errorf("upstreams = %#v", f.Edge.Upstreams)
	}
}

func TestUnknownEnvVariableIsAWarning(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("STACK_EDGE_LISTN", "127.0.0.1:1")
	t.Setenv("STACK_SUPERUSER_PASSWORD", "not a key, but createsuperuser's")
	f, msg := loadErr(t, Options{})
	if msg != "" {
		t.Fatal(msg)
	}
	if len(f.Warnings) != 1 || !strings.Contains(f.Warnings[0], "STACK_EDGE_LISTN: names no configuration key") {
		t.Errorf("warnings = %q", f.Warnings)
	}
}

// The variables the stack sets for its own children start with STACK_ too:
// a prespawned worker whose configuration fails to load listed
// "STACK_PREFORK_AWAIT_START: names no configuration key" among the
// problems, as if the user had set it.
func TestTheStacksOwnVariablesAreNoKeys(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, name := range []string{envnames.PreforkAwaitStart, envnames.SignalReadyFD, envnames.EarlyWorker} {
		t.Setenv(name, "1")
	}
	f, msg := loadErr(t, Options{})
	if msg != "" {
		t.Fatal(msg)
	}
	if len(f.Warnings) != 0 {
		t.Errorf("warnings = %q, want none", f.Warnings)
	}
}

// Issue 16 item 5: names were lower-cased and EDGE: accepted.
func TestKeysAreCaseSensitiveAndNamesKeptAsWritten(t *testing.T) {
	path := writeFile(t, `
edge:
  locations: [{path: /, upstream: MyApp}]
  upstreams:
    MyApp: {servers: ["unix:/tmp/x.sock"]}
`)
	f, msg := loadErr(t, Options{Path: path})
	if msg != "" {
		t.Fatal(msg)
	}
	if _, ok := f.Edge.Upstreams["MyApp"]; !ok {
		t.Errorf("upstreams = %v", f.Edge.Upstreams)
	}
	path = writeFile(t, "EDGE:\n  Listen: [\"127.0.0.1:1\"]\n")
	_, msg = loadErr(t, Options{Path: path})
	if !strings.Contains(msg, "EDGE: unknown key (did you mean edge? keys are lower case)") {
		t.Errorf("err = %q", msg)
	}
}

// Issue 16 item 8: a problem names the variable or flag it came from.
func TestProblemsNameTheirSource(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("STACK_EDGE_LISTEN", "nonsense")
	t.Setenv("STACK_SHUTDOWN_TIMEOUT", "10 parsecs")
	_, msg := loadErr(t, Options{Set: []string{"appserver.harakiri=forever", "edge.colour=blue"}})
	for _, want := range []string{
		"STACK_EDGE_LISTEN: edge.listen[0]:",
		`STACK_SHUTDOWN_TIMEOUT: shutdown_timeout: "10 parsecs" is not a duration`,
		`--set appserver.harakiri: appserver.harakiri: "forever" is not a duration`,
		"--set edge.colour: edge.colour: unknown key",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "built-in defaults: edge") {
		t.Errorf("a problem is blamed on the defaults:\n%s", msg)
	}
}

// Issue 16 item 11: a string for a list in the file was split on spaces.
func TestFileListMustBeAListEnvSplitsShellStyle(t *testing.T) {
	path := writeFile(t, `
processes:
  - {name: p, command: "sh -c 'echo hello world'"}
`)
	_, msg := loadErr(t, Options{Path: path})
	if !strings.Contains(msg, "processes[0].command: expected a list") {
		t.Errorf("err = %q", msg)
	}
	t.Chdir(t.TempDir())
	t.Setenv("STACK_EDGE_TRUSTED_PROXIES", `10.0.0.0/8, "192.168.0.0/16"`)
	t.Setenv("STACK_PROCESSES", `[{name: p, command: [sh, -c, "echo 'a b'"]}]`)
	f, msg := loadErr(t, Options{})
	if msg != "" {
		t.Fatal(msg)
	}
	if want := []string{"10.0.0.0/8", "192.168.0.0/16"}; !reflect.DeepEqual(f.Edge.TrustedProxies, want) {
		t.Errorf("trusted_proxies = %q", f.Edge.TrustedProxies)
	}
	words, err := splitWords(`sh -c 'echo hello world' "a \"b\"" c\ d`)
	if want := []string{"sh", "-c", "echo hello world", `a "b"`, "c d"}; err != nil || !reflect.DeepEqual(words, want) {
		t.Errorf("splitWords = %q, %v", words, err)
	}
}

// Issue 16 item 12: an unquoted 400 became 0620.
func TestSocketModeIsAlwaysOctal(t *testing.T) {
	for text, want := range map[string]os.FileMode{`600`: 0o600, `0660`: 0o660, `"0640"`: 0o640, `0o600`: 0o600, `640`: 0o640} {
		path := writeFile(t, "appserver:\n  socket_mode: "+text+"\n")
		f, msg := loadErr(t, Options{Path: path})
		if msg != "" {
			t.Errorf("%s: %s", text, msg)
			continue
		}
		if f.Appserver.SocketMode != want {
			t.Errorf("socket_mode: %s = %#o, want %#o", text, f.Appserver.SocketMode, want)
		}
	}
	// 400 was read as decimal 0620; as octal the owner cannot write.
	path := writeFile(t, "appserver:\n  socket_mode: 400\n")
	if _, msg := loadErr(t, Options{Path: path}); !strings.Contains(msg, "appserver.socket_mode: 0400 does not let the owner write") {
		t.Errorf("err = %q", msg)
	}
	path = writeFile(t, "appserver:\n  socket_mode: 999\n")
	if _, msg := loadErr(t, Options{Path: path}); !strings.Contains(msg, "appserver.socket_mode: 999 is not a permission mode") {
		t.Errorf("err = %q", msg)
	}
}

// Issue 16 item 13: settings for an app that takes none were accepted.
func TestAppWithoutSettingsRefusesThem(t *testing.T) {
	path := writeFile(t, "apps:\n  hello:\n    greeting: hi\n")
	if _, msg := loadErr(t, Options{Path: path}); !strings.Contains(msg, "apps.hello: this app takes no settings") {
		t.Errorf("err = %q", msg)
	}
	t.Chdir(t.TempDir())
	t.Setenv("STACK_APPS_ECHO_COLOUR", "red")
	if _, msg := loadErr(t, Options{}); !strings.Contains(msg, "STACK_APPS_ECHO_COLOUR: apps.echo: this app takes no settings") {
		t.Errorf("err = %q", msg)
	}
}

// A derived key's problem names the key it follows, where that was set.
func TestDerivedProblemNamesItsOrigin(t *testing.T) {
	t.Chdir(t.TempDir())
	long := "/" + strings.Repeat("r", 110)
	_, msg := loadErr(t, Options{Set: []string{"run_dir=" + long}})
	for _, want := range []string{
		"--set run_dir (appserver.listen follows run_dir): appserver.listen: socket path",
		"--set run_dir (edge.upstreams.app.servers follows appserver.listen): edge.upstreams.app.servers[0]: socket path",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

func TestEnvListTakesIPv6Addresses(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("STACK_EDGE_LISTEN", "[::1]:0")
	f, msg := loadErr(t, Options{})
	if msg != "" {
		t.Fatal(msg)
	}
	if !reflect.DeepEqual(f.Edge.Listen, []string{"[::1]:0"}) {
		t.Errorf("listen = %q", f.Edge.Listen)
	}
}

// The rule the README states for STACK_ names: the longest known key at
// each level; under a map a name already defined, else the shortest name
// after which the rest is a key.
func TestEnvNamesResolveAgainstTheKeyTree(t *testing.T) {
	root, err := parseYAML([]byte("edge:\n  upstreams:\n    my-api: {}\n    Shop: {}\n"), "stack.yaml")
	if err != nil {
		t.Fatal(err)
	}
	kt := &keyTree{root: root, defaults: Default(), apps: map[string]reflect.Type{"polls": reflect.TypeFor[testSettings](), "hello": nil}}
	for name, want := range map[string]string{
		"EDGE_CLIENT_MAX_BODY_SIZE":            "edge.client_max_body_size",
		"EDGE_UPSTREAMS_MY_API_READ_TIMEOUT":   "edge.upstreams.my-api.read_timeout",
		"EDGE_UPSTREAMS_SHOP_SERVERS":          "edge.upstreams.Shop.servers",
		"EDGE_UPSTREAMS_APP_SERVERS":           "edge.upstreams.app.servers",
		"EDGE_UPSTREAMS_NEW_ONE_SEND_TIMEOUT":  "edge.upstreams.new_one.send_timeout",
		"APPS_POLLS_SECRET_KEY":                "apps.polls.secret_key",
		"APPS_HELLO_GREETING":                  "apps.hello.greeting",
		"PROCESSES":                            "processes",
		"APPSERVER_SOCKET_MODE":                "appserver.socket_mode",
		"EDGE_UPSTREAMS":                       "edge.upstreams",
		"EDGE_UPSTREAMS_APP_MAX_FAILS":         "edge.upstreams.app.max_fails",
		"SHUTDOWN_TIMEOUT":                     "shutdown_timeout",
		"EDGE_LOCATIONS":                       "edge.locations",
		"APPSERVER_LISTEN":                     "appserver.listen",
		"EDGE_UPSTREAMS_APP_CONNECT_TIMEOUT":   "edge.upstreams.app.connect_timeout",
		"EDGE_UPSTREAMS_X_Y_Z_CONNECT_TIMEOUT": "edge.upstreams.x_y_z.connect_timeout",
	} {
		path, ok := kt.resolve(nil, strings.Split(strings.ToLower(name), "_"), reflect.TypeFor[File]())
		if got := strings.Join(path, "."); !ok || got != want {
			t.Errorf("STACK_%s = %q (%v), want %q", name, got, ok, want)
		}
	}
	for _, name := range []string{"EDGE_LISTN", "EDGE_UPSTREAMS_APP_COLOUR", "NOPE"} {
		if path, ok := kt.resolve(nil, strings.Split(strings.ToLower(name), "_"), reflect.TypeFor[File]()); ok {
			t.Errorf("STACK_%s resolved to %q", name, path)
		}
	}
}
