package config

import (
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 16 item 3: the socket path follows run_dir, then appserver.listen.
func TestSocketPathFollowsRunDir(t *testing.T) {
	t.Chdir(t.TempDir())
	f, msg := loadErr(t, Options{Set: []string{"run_dir=/srv/data"}})
	if msg != "" {
		t.Fatal(msg)
	}
	if f.Appserver.Listen != "unix:/srv/data/app.sock" || f.Edge.Upstreams["app"].Servers[0] != "unix:/srv/data/app.sock" {
		t.Errorf("listen %q servers %q", f.Appserver.Listen, f.Edge.Upstreams["app"].Servers)
	}
	t.Setenv("STACK_APPSERVER_LISTEN", "unix:/tmp/other.sock")
	f, msg = loadErr(t, Options{})
	if msg != "" {
		t.Fatal(msg)
	}
	if got := f.Edge.Upstreams["app"].Servers; len(got) != 1 || got[0] != "unix:/tmp/other.sock" || len(f.Warnings) != 0 {
		t.Errorf("servers %q warnings %q", got, f.Warnings)
	}
}

func TestAnHTTPUpstreamDoesNotFollowTheAppserver(t *testing.T) {
	t.Chdir(t.TempDir())
	if _, msg := loadErr(t, Options{Set: []string{"edge.upstreams.app.protocol=http"}}); !strings.Contains(msg, "--set edge.upstreams.app.protocol: edge.upstreams.app.servers: none") {
		t.Errorf("err = %q", msg)
	}
}

func TestWarnsWhenNoUpstreamReachesTheAppserver(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("STACK_APPSERVER_LISTEN", "unix:/tmp/other.sock")
	t.Setenv("STACK_EDGE_UPSTREAMS_APP_SERVERS", "unix:run/app.sock")
	f, msg := loadErr(t, Options{})
	if msg != "" {
		t.Fatal(msg)
	}
	if len(f.Warnings) != 1 || !strings.Contains(f.Warnings[0], "no request reaches the app server") {
		t.Errorf("warnings = %q", f.Warnings)
	}
	// `stack edge` starts no app server: nothing to warn about.
	f, _ = loadErr(t, Options{Scope: "edge"})
	if len(f.Warnings) != 0 {
		t.Errorf("edge scope warnings = %q", f.Warnings)
	}
}

// A server with nginx's parameters ("weight=2", "backup") still counts as
// the app server's address.
func TestWeightedServerReachesTheAppserver(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, servers := range []string{"unix:run/app.sock weight=2", "[unix:/tmp/x.sock backup, unix:run/app.sock weight=3]"} {
		f, msg := loadErr(t, Options{Set: []string{"edge.upstreams.app.servers=" + servers}})
		if msg != "" {
			t.Fatalf("%s: %s", servers, msg)
		}
		if len(f.Warnings) != 0 {
			t.Errorf("%s: warnings = %q", servers, f.Warnings)
		}
	}
}

// Issue 16 item 6: check passed what up fails on.
func TestCheckCatchesAddressesAndPaths(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	long := "unix:" + strings.Repeat("d", 110) + ".sock"
	if err := os.Mkdir("ro", 0o500); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("ro.log", nil, 0o400); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		set  []string
		want string
	}{
		{[]string{"edge.listen=[127.0.0.1:8000, 127.0.0.1:8000]"}, "edge.listen[1]: \"127.0.0.1:8000\" collides with edge.listen[0]"},
		{[]string{"edge.listen=[0.0.0.0:8000, 127.0.0.1:8000]"}, "collides with edge.listen[0]"},
		{[]string{"edge.listen=127.0.0.1:99999"}, `port "99999" is not a number from 1 to 65535`},
		{[]string{"edge.listen=:abc"}, `port "abc" is not a number`},
		{[]string{"edge.listen=999.1.1.1:80"}, `"999.1.1.1" is not an IP address`},
		{[]string{"edge.listen=127.0.0.1:"}, "has no port"},
		{[]string{"appserver.listen=" + long}, "appserver.listen: socket path"},
		{[]string{"edge.upstreams.app.servers=" + long}, "edge.upstreams.app.servers[0]: socket path"},
		{[]string{"appserver.listen=unix:/nonexistent/dir/app.sock"}, "socket directory /nonexistent/dir"},
		{[]string{"edge.access_log=/nonexistent/dir/access.log"}, "edge.access_log: cannot create"},
		{[]string{"edge.access_log=" + dir}, "is a directory"},
		{[]string{"edge.locations=[{path: /s/, root: /nonexistent}, {path: /, upstream: app}]"}, "edge.locations[0].root"},
		{[]string{"appserver.listen=127.0.0.1:8000"}, "is also edge.listen[0]"},
		// The stats server binds after appserver.listen and the edge: up
		// refused these (blaming appserver.listen for its own socket).
		{[]string{"appserver.listen=unix:run/app.sock", "appserver.stats=unix:./run/app.sock"}, "appserver.stats: \"unix:./run/app.sock\" is also appserver.listen"},
		{[]string{"appserver.listen=127.0.0.1:8001", "appserver.stats=127.0.0.1:8001"}, "appserver.stats: \"127.0.0.1:8001\" is also appserver.listen"},
		{[]string{"appserver.stats=0.0.0.0:8000"}, "appserver.stats: \"0.0.0.0:8000\" is also edge.listen[0]"},
		{[]string{"appserver.stats=unix:/nonexistent/dir/stats.sock"}, "appserver.stats: socket directory /nonexistent/dir"},
	}
	if os.Geteuid() != 0 { // root may write anywhere
		cases = append(cases, struct {
			set  []string
			want string
		}{[]string{"edge.access_log=ro.log"}, "cannot open for appending"})
	}
	for _, c := range cases {
		_, msg := loadErr(t, Options{Set: c.set})
		if !strings.Contains(msg, c.want) {
			t.Errorf("--set %q: err = %q, want %q", c.set, msg, c.want)
		}
	}
	// And what is fine stays fine: port 0, a name, a log in a writable dir.
	if _, msg := loadErr(t, Options{Set: []string{"edge.listen=[127.0.0.1:0, localhost:0]", "edge.access_log=" + filepath.Join(dir, "a.log")}}); msg != "" {
		t.Errorf("valid: %s", msg)
	}
	if _, err := os.Stat(filepath.Join(dir, "a.log")); err == nil {
		t.Error("check created the access log")
	}
}

// Issue 16 item 2, as check sees it.
func TestCheckRefusesAWorldWritableRunDir(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o1777)
	t.Chdir(dir)
	if _, msg := loadErr(t, Options{Set: []string{"run_dir=" + dir}}); !strings.Contains(msg, "run_dir: "+dir+" is writable by every user") {
		t.Errorf("err = %q", msg)
	}
}

// Issue 16 item 9: the edge alone does not need the app's secret key.
func TestScopeValidatesOnlyWhatRuns(t *testing.T) {
	path := writeFile(t, "apps:\n  polls:\n    debug: false\n")
	if _, msg := loadErr(t, Options{Path: path}); !strings.Contains(msg, "apps.polls: secret_key is required") {
		t.Errorf("up: err = %q", msg)
	}
	if _, msg := loadErr(t, Options{Path: path, Scope: "edge"}); msg != "" {
		t.Errorf("edge: %s", msg)
	}
	// An app that is configured but not served does not stop the stack.
	if _, msg := loadErr(t, Options{Path: path, Set: []string{"appserver.app=hello"}}); msg != "" {
		t.Errorf("app hello: %s", msg)
	}
	// The app server alone does not check the edge.
	if _, msg := loadErr(t, Options{Path: path, Scope: "appserver", Set: []string{"apps.polls.secret_key=k", "edge.listen=nonsense"}}); msg != "" {
		t.Errorf("appserver: %s", msg)
	}
}

// Issue 16 item 10: stack config printed the secret key.
func TestYAMLRedactsSecrets(t *testing.T) {
	t.Chdir(t.TempDir())
	f, msg := loadErr(t, Options{Set: []string{"apps.polls.secret_key=hunter2", `processes=[{name: p, command: [sh], env: [DB_PASSWORD=pw, MODE=fast]}]`}})
	if msg != "" {
		t.Fatal(msg)
	}
	out, _ := f.YAML(false)
	if strings.Contains(string(out), "hunter2") || strings.Contains(string(out), "=pw") {
		t.Errorf("secret printed:\n%s", out)
	}
	for _, want := range []string{"secret_key: '********************'", "DB_PASSWORD=********************", "MODE=fast", "database: \"\""} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, _ = f.YAML(true)
	if !strings.Contains(string(out), "secret_key: hunter2") {
		t.Errorf("--show-secrets hid it:\n%s", out)
	}
}

// A worker process may run as a user who cannot write run_dir (appserver.user):
// its master checked the machine, so the worker's load must not refuse it.
func TestWorkerScopeLeavesTheMachineToTheMaster(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.WriteFile("blocker", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	set := []string{"run_dir=blocker/run"} // cannot be created: its parent is a file
	if _, msg := loadErr(t, Options{Scope: "appserver", Set: set}); !strings.Contains(msg, "run_dir") {
		t.Fatalf("appserver scope: want a run_dir problem, got %q", msg)
	}
	if _, msg := loadErr(t, Options{Scope: "worker", Set: set}); msg != "" {
		t.Fatalf("worker scope: %s", msg)
	}
	if _, msg := loadErr(t, Options{Scope: "worker", Set: append(set, "appserver.processes=-1")}); !strings.Contains(msg, "appserver.processes") {
		t.Fatalf("worker scope still checks the appserver's keys: got %q", msg)
	}
}

// With appserver.user, check passed what made every worker of `up` die at
// once ("config: open stack.yaml: permission denied") while the master
// kept the socket: a configuration file, or a directory on its way, that
// the user cannot read. The workers now load what the master read, so
// such a file is accepted. As another user than root, up refuses the
// switch itself, and check says so too.
func TestCheckOnAWorkerUserAndAFileOnlyRootReads(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	set := []string{"appserver.processes=1", "appserver.user=nobody"}
	if _, err := user.Lookup("nobody"); err != nil {
		t.Fatalf("this test needs the user nobody: %v", err)
	}
	write := func(path string, mode os.FileMode) {
		if err := os.WriteFile(path, []byte("appserver: {app: hello}\n"), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(path, mode)
	}
	write("open.yaml", 0o644)
	if os.Geteuid() != 0 {
		_, msg := loadErr(t, Options{Path: "open.yaml", Set: set})
		if !strings.Contains(msg, "appserver.user: switching the workers") || !strings.Contains(msg, "needs the master to start as root") {
			t.Errorf("as uid %d: err = %q, want the need for root", os.Geteuid(), msg)
		}
		return
	}
	// (The test binary, under go-build's 0700 directory, is out of
	// nobody's reach: that is said too, after the file.)
	if _, msg := loadErr(t, Options{Path: "open.yaml", Set: set}); strings.Contains(msg, "configuration file") {
		t.Errorf("a file nobody can read refused: %s", msg)
	}
	// The workers load what their master read (an inherited descriptor),
	// so a file only root reads is no reason to refuse.
	write("closed.yaml", 0o600)
	if _, msg := loadErr(t, Options{Path: "closed.yaml", Set: set}); strings.Contains(msg, "configuration file") {
		t.Errorf("0600 file refused: %s", msg)
	}
	if err := os.Mkdir("priv", 0o700); err != nil {
		t.Fatal(err)
	}
	write("priv/stack.yaml", 0o644)
	if _, msg := loadErr(t, Options{Path: "priv/stack.yaml", Set: set}); strings.Contains(msg, "directory priv") {
		t.Errorf("a file in a 0700 directory refused: %s", msg)
	}
}
