package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// release and log_format are checked with the rest, each problem naming
// its key and where it was written.
func TestCheckReleaseAndLogFormat(t *testing.T) {
	t.Chdir(t.TempDir())
	os.WriteFile("stack.yaml", []byte("log_format: yaml\nrelease:\n  - []\n  - [no-such-program-here, x]\n  - [stack, migrate]\n  - echo hi\n"), 0o644)
	_, msg := loadErr(t, Options{})
	for _, want := range []string{
		`stack.yaml: log_format: "yaml" is not text or json`,
		`stack.yaml: release[0]: empty; give the program and its arguments as a list`,
		`stack.yaml: release[1]: "no-such-program-here": exec: "no-such-program-here": executable file not found`,
		`stack.yaml: release[3]: expected a list such as [a, b], got "echo hi" (a string is not split in the file)`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("problems lack %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "release[2]") {
		t.Errorf("[stack, migrate] refused:\n%s", msg)
	}
	// `stack edge` runs no release: only what cannot be decoded is refused.
	if _, msg := loadErr(t, Options{Scope: "edge", Set: []string{"log_format=json"}}); strings.Contains(msg, "release[1]") || strings.Contains(msg, "log_format") {
		t.Errorf("edge scope checks release:\n%s", msg)
	}
}

// The app's default release applies only when no source gives release;
// any source's, even an empty list, replaces it.
func TestDefaultReleaseIsReplacedByAnyGivenOne(t *testing.T) {
	t.Chdir(t.TempDir())
	def := func(app string) [][]string {
		if app == "polls" {
			return [][]string{{"stack", "migrate"}}
		}
		return nil
	}
	for _, c := range []struct {
		file string
		env  string
		want [][]string
	}{
		{"", "", [][]string{{"stack", "migrate"}}},
		{"appserver: {app: hello}\n", "", nil},
		{"release: []\n", "", nil},
		{"release: [[sh, -c, 'true']]\n", "", [][]string{{"sh", "-c", "true"}}},
		{"", "[[stack, migrate], [sh, -c, 'echo done']]", [][]string{{"stack", "migrate"}, {"sh", "-c", "echo done"}}},
	} {
		os.WriteFile(filepath.Join(".", "stack.yaml"), []byte(c.file), 0o644)
		if c.env != "" {
			t.Setenv("STACK_RELEASE", c.env)
		}
		f, msg := loadErr(t, Options{DefaultRelease: def, Apps: map[string]func() any{"polls": nil, "hello": nil}})
		if msg != "" {
			t.Fatalf("%q: %s", c.file, msg)
		}
		if !slices.EqualFunc(f.Release, c.want, slices.Equal) {
			t.Errorf("file %q env %q: release %q, want %q", c.file, c.env, f.Release, c.want)
		}
	}
}

func TestCheckLogKeys(t *testing.T) {
	t.Chdir(t.TempDir())
	os.WriteFile("stack.yaml", []byte("edge:\n  access_log_format: apache\nappserver:\n  log_requests: sometimes\n"), 0o644)
	_, msg := loadErr(t, Options{})
	for _, want := range []string{
		`stack.yaml: edge.access_log_format: "apache" is not combined or json`,
		`stack.yaml: appserver.log_requests: "sometimes" is not true or false`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("problems lack %q:\n%s", want, msg)
		}
	}
	t.Setenv("STACK_EDGE_ACCESS_LOG_FORMAT", "json")
	t.Setenv("STACK_APPSERVER_LOG_REQUESTS", "true")
	os.WriteFile("stack.yaml", nil, 0o644)
	f, msg := loadErr(t, Options{})
	if msg != "" || f.Edge.AccessLogFormat != "json" || !f.Appserver.LogRequests {
		t.Errorf("from the environment: %q %v %s", f.Edge.AccessLogFormat, f.Appserver.LogRequests, msg)
	}
}

// check refuses a release step that serves until stopped, as up does
// (break-it 15: check passed [stack, up], which up then ran without end).
func TestCheckRefusesAReleaseStepThatServes(t *testing.T) {
	t.Chdir(t.TempDir())
	os.WriteFile("stack.yaml", []byte("release:\n  - [stack, migrate]\n  - [stack, up]\n  - [stack, --log-level, debug, edge]\n  - [stack, --, up]\n"), 0o644)
	_, msg := loadErr(t, Options{})
	for _, want := range []string{
		"release[1]: `stack up` serves until it is stopped",
		"release[2]: `stack edge` serves until it is stopped",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("check says:\n%s\nwant %q", msg, want)
		}
	}
	for _, not := range []string{"release[0]", "release[3]"} {
		if strings.Contains(msg, not) {
			t.Errorf("%s is refused:\n%s", not, msg)
		}
	}
}
