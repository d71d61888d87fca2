package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Configurations a careless or hostile user writes: each must get a clear
// answer at once, never a hang, a crash or a value silently taken.

// A few lines of nested aliases expand to 10^8 values: reading them ran
// out of memory (fatal error: out of memory) after a long hang.
func TestAliasBombIsRefused(t *testing.T) {
	body := "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
	prev := "a"
	for _, name := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		body += name + ": &" + name + " [" + strings.Repeat("*"+prev+",", 9) + "*" + prev + "]\n"
		prev = name
	}
	path := writeFile(t, body)
	done := make(chan string, 1)
	go func() {
		_, msg := loadErr(t, Options{Path: path})
		done <- msg
	}()
	select {
	case msg := <-done:
		if !strings.Contains(msg, "aliases expand to more than") {
			t.Errorf("err = %q, want the alias expansion refused", msg)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Load still expanding aliases after 20s")
	}
}

// Aliases within the bound, and merge keys, work as in every YAML loader:
// <<: *defaults was refused as an unknown key "<<".
func TestAnchorsAliasesAndMergeKeys(t *testing.T) {
	t.Chdir(t.TempDir())
	path := writeFile(t, `edge:
  listen: &addrs ["127.0.0.1:18000"]
  upstreams:
    app: &up
      read_timeout: 7s
      connect_timeout: 2s
    api:
      <<: *up
      connect_timeout: 3s
      servers: *addrs
    other:
      <<: [{send_timeout: 4s, read_timeout: 1s}, *up]
      servers: ["127.0.0.1:9"]
`)
	f, msg := loadErr(t, Options{Path: path})
	if msg != "" {
		t.Fatal(msg)
	}
	api, other := f.Edge.Upstreams["api"], f.Edge.Upstreams["other"]
	if api.ReadTimeout != 7*time.Second || api.ConnectTimeout != 3*time.Second || len(api.Servers) != 1 || api.Servers[0] != "127.0.0.1:18000" {
		t.Errorf("api = %+v: want read_timeout merged from app, its own connect_timeout, the aliased servers", api)
	}
	// The first mapping merged wins, as YAML's merge key says.
	if other.SendTimeout != 4*time.Second || other.ReadTimeout != time.Second || other.ConnectTimeout != 2*time.Second {
		t.Errorf("other = %+v", other)
	}
	if f.Edge.Upstreams["app"].ConnectTimeout != 2*time.Second {
		t.Errorf("the anchored mapping changed: %+v", f.Edge.Upstreams["app"])
	}

	bad := writeFile(t, "edge:\n  upstreams:\n    app:\n      <<: 5\n")
	if _, msg := loadErr(t, Options{Path: bad}); !strings.Contains(msg, "a merge key (<<) takes a mapping") {
		t.Errorf("<<: 5: err = %q", msg)
	}
}

// stack config redacted secret_key but printed the password of a database
// URL, in apps.<name>.database or in a process's env.
func TestYAMLRedactsURLPasswords(t *testing.T) {
	t.Chdir(t.TempDir())
	f, msg := loadErr(t, Options{Set: []string{
		"apps.polls.database=postgres://user:hunter2@db.example/polls",
		`processes=[{name: p, command: [sh], env: ["DATABASE_URL=postgres://u:hunter3@h:5432/db?sslmode=require", "HOME_URL=https://example.com:8443/a@b"]}]`,
	}})
	if msg != "" {
		t.Fatal(msg)
	}
	out, _ := f.YAML(false)
	for _, secret := range []string{"hunter2", "hunter3"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("%s printed:\n%s", secret, out)
		}
	}
	for _, want := range []string{"postgres://user:********************@db.example/polls", "postgres://u:********************@h:5432/db?sslmode=require", "https://example.com:8443/a@b"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, _ = f.YAML(true)
	if !strings.Contains(string(out), "hunter2") || !strings.Contains(string(out), "hunter3") {
		t.Errorf("--show-secrets hid a URL's password:\n%s", out)
	}
}

// A second document after --- was dropped without a word: "mode: bogus"
// in it passed check.
func TestSecondYAMLDocumentIsRefused(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, body := range []string{
		"mode: inprocess\n---\nmode: bogus\n",
		"mode: inprocess\n---\n---\nmode: bogus\n",
	} {
		path := writeFile(t, body)
		if _, msg := loadErr(t, Options{Path: path}); !strings.Contains(msg, "a second YAML document") {
			t.Errorf("%q: err = %q", body, msg)
		}
	}
	// An empty document is an empty file: the defaults.
	for _, body := range []string{"", "---\n", "~\n", "mode: inprocess\n---\n", "mode: inprocess\n...\n"} {
		path := writeFile(t, body)
		if _, msg := loadErr(t, Options{Path: path}); msg != "" {
			t.Errorf("%q: %s", body, msg)
		}
	}
	t.Setenv("STACK_PROCESSES", "[{name: w, command: [x]}]\n---\n[{name: v, command: [y]}]")
	if _, msg := loadErr(t, Options{}); !strings.Contains(msg, "STACK_PROCESSES: processes: not valid YAML for a list: line 3: a second YAML document") {
		t.Errorf("STACK_PROCESSES with two documents: err = %q", msg)
	}
}

// stack check called these processes valid; stack up then restarted them
// forever ("executable file not found", "fork/exec ...: permission
// denied", "no such file or directory" for a missing dir).
func TestCheckRefusesProcessesThatCannotStart(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.WriteFile("script.sh", []byte("#!/bin/sh\nexit 0\n"), 0o644)
	os.WriteFile("run.sh", []byte("#!/bin/sh\nexit 0\n"), 0o755)
	os.Mkdir("sub", 0o755)
	os.WriteFile(filepath.Join("sub", "tool"), []byte("#!/bin/sh\nexit 0\n"), 0o755)
	for _, tc := range []struct{ proc, want string }{
		{`{name: p, command: [no-such-program-anywhere]}`, `processes[0].command: "no-such-program-anywhere": exec: "no-such-program-anywhere": executable file not found in $PATH`},
		{`{name: p, command: [./script.sh]}`, "processes[0].command: ./script.sh is not executable"},
		{`{name: p, command: [./missing.sh]}`, "processes[0].command: stat ./missing.sh: no such file or directory"},
		{`{name: p, command: [` + dir + `]}`, "processes[0].command: " + dir + " is a directory, not a program"},
		{`{name: p, command: [sleep, "1"], dir: nowhere}`, "processes[0].dir: stat nowhere: no such file or directory"},
		{`{name: p, command: [sleep, "1"], dir: run.sh}`, "processes[0].dir: run.sh is not a directory"},
		{`{name: p, command: [./run.sh]}`, ""},
		{`{name: p, command: [./tool], dir: sub}`, ""},
		{`{name: p, command: [sh, -c, "exit 0"], dir: sub}`, ""},
	} {
		_, msg := loadErr(t, Options{Set: []string{"processes=[" + tc.proc + "]"}})
		switch {
		case tc.want == "" && msg != "":
			t.Errorf("%s: %s", tc.proc, msg)
		case tc.want != "" && !strings.Contains(msg, "--set processes: "+tc.want):
			t.Errorf("%s: err = %q, want %q", tc.proc, msg, tc.want)
		}
	}
}

// Only a scalar under a secret key was hidden: a list or a mapping of
// secrets (an app's api_keys: [a, b]) was printed.
func TestYAMLHidesEverythingUnderASecretKey(t *testing.T) {
	t.Chdir(t.TempDir())
	path := writeFile(t, "apps:\n  custom:\n    api_keys: [k1secret, k2secret]\n    tokens: {github: k3secret}\n    name: shown\n")
	_, msg := loadErr(t, Options{Path: path, Apps: map[string]func() any{}})
	if msg == "" {
		t.Fatal("custom is not registered here: want it refused")
	}
	// A library caller that registers no apps keeps every section as is.
	f, err := Load(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := f.YAML(false)
	for _, secret := range []string{"k1secret", "k2secret", "k3secret"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("%s printed:\n%s", secret, out)
		}
	}
	if !strings.Contains(string(out), "name: shown") {
		t.Errorf("a plain setting was hidden:\n%s", out)
	}
}

// An address that is not this machine's (after a move to another host,
// or a link-local one without its zone) passed check; up then failed
// with "bind: cannot assign requested address".
func TestCheckRefusesAnAddressThisMachineDoesNotHave(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, tc := range []struct{ set, want string }{
		{"edge.listen=192.0.2.1:8000", `--set edge.listen: edge.listen[0]: "192.0.2.1:8000": cannot listen on 192.0.2.1 on this machine: cannot assign requested address`},
		{"appserver.listen=192.0.2.1:3031", `--set appserver.listen: appserver.listen: "192.0.2.1:3031": cannot listen on 192.0.2.1 on this machine`},
		{"edge.listen=127.0.0.1:8000", ""},
		{"edge.listen=0.0.0.0:8000", ""},
		{"edge.listen=localhost:8000", ""},
	} {
		_, msg := loadErr(t, Options{Set: []string{tc.set}})
		switch {
		case tc.want == "" && msg != "":
			t.Errorf("%s: %s", tc.set, msg)
		case tc.want != "" && !strings.Contains(msg, tc.want):
			t.Errorf("%s: err = %q, want %q", tc.set, msg, tc.want)
		}
	}
}

// session_cookie_age was printed as stars (the pattern had "cookie" where
// Django's has HTTP_COOKIE), so `stack config > stack.yaml` wrote a file
// that stack check refused: "expected a whole number".
func TestRedactedConfigLoadsBack(t *testing.T) {
	t.Chdir(t.TempDir())
	f, msg := loadErr(t, Options{Set: []string{"apps.polls.secret_key=s3cret-value", "apps.polls.session_cookie_age=600"}})
	if msg != "" {
		t.Fatal(msg)
	}
	out, _ := f.YAML(false)
	if strings.Contains(string(out), "s3cret-value") {
		t.Fatalf("secret printed:\n%s", out)
	}
	path := writeFile(t, string(out))
	g, msg := loadErr(t, Options{Path: path})
	if msg != "" {
		t.Fatalf("the redacted output does not load back: %s\n%s", msg, out)
	}
	if s := g.Apps["polls"].(*testSettings); s.SessionCookieAge != 600 {
		t.Errorf("session_cookie_age = %d after the round trip", s.SessionCookieAge)
	}
}

// A run_dir that is a symbolic link to a missing directory passed check;
// up then failed with "mkdir run: file exists".
func TestCheckRefusesADanglingRunDirLink(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.Symlink(filepath.Join(dir, "gone"), "run")
	for _, tc := range []struct{ runDir, want string }{
		{"run", "run_dir: run is a symbolic link to " + filepath.Join(dir, "gone") + ", which does not exist"},
		{"run/sub", "run_dir: cannot create run/sub: run is a symbolic link to " + filepath.Join(dir, "gone") + ", which does not exist"},
	} {
		_, msg := loadErr(t, Options{Set: []string{"run_dir=" + tc.runDir}})
		if !strings.Contains(msg, tc.want) {
			t.Errorf("run_dir %s: err = %q, want %q", tc.runDir, msg, tc.want)
		}
	}
}

// run_dir/tmp that is a file passed check; up then failed with "mkdir
// run/tmp: not a directory".
func TestCheckRefusesARunDirTmpThatIsAFile(t *testing.T) {
	t.Chdir(t.TempDir())
	os.Mkdir("run", 0o700)
	os.WriteFile(filepath.Join("run", "tmp"), nil, 0o600)
	_, msg := loadErr(t, Options{})
	if want := "built-in defaults: run_dir: run/tmp is not a directory"; !strings.Contains(msg, want) {
		t.Errorf("err = %q, want %q", msg, want)
	}
}

// `stack up -c /dev/stdin` in subprocess mode, or with worker processes:
// the children once read the file again, an empty stdin, and ran with the
// defaults, so such a file was refused. They now load what the parent
// read (Options.Held, from an inherited descriptor): a pipe is accepted.
func TestAPipedConfigurationIsAcceptedWithChildren(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	fifo := filepath.Join(dir, "config.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ body, scope string }{
		{"mode: subprocess\n", "up"},
		{"appserver:\n  processes: 2\n", "up"},
		{"appserver:\n  processes: 2\n", "appserver"},
	} {
		go func() {
			w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
			if err == nil {
				w.WriteString(tc.body)
				w.Close()
			}
		}()
		f, err := Load(Options{Path: fifo, Scope: tc.scope})
		if err != nil {
			t.Errorf("%q as %s: %v", tc.body, tc.scope, err)
			continue
		}
		if !f.Held.File || string(f.Held.Data) != tc.body {
			t.Errorf("%q as %s: held %+v, want the text read", tc.body, tc.scope, f.Held)
		}
	}
}

// --config /dev/zero read until memory ran out; a directory's error did
// not say it was about the configuration.
func TestConfigFileIsBoundedAndNamed(t *testing.T) {
	done := make(chan string, 1)
	go func() {
		_, msg := loadErr(t, Options{Path: "/dev/zero"})
		done <- msg
	}()
	select {
	case msg := <-done:
		if !strings.Contains(msg, "config: /dev/zero is larger than 16 MiB") {
			t.Errorf("/dev/zero: err = %q", msg)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("still reading /dev/zero after 20s")
	}
	dir := t.TempDir()
	if _, msg := loadErr(t, Options{Path: dir}); msg != "config: read "+dir+": is a directory" {
		t.Errorf("a directory: err = %q", msg)
	}
}

// "key: ~" keeps the default, but for the derived socket path it kept the
// static default: appserver.listen: ~ or servers: ~ under run_dir: elsewhere
// left the socket (or the edge's dial) in ./run.
func TestNullKeepsTheDerivedSocketPath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, body := range []string{
		"run_dir: data\nappserver:\n  listen: ~\n",
		"run_dir: data\nedge:\n  upstreams:\n    app:\n      servers: ~\n",
		"run_dir: data\nedge:\n  upstreams:\n    app: ~\n",
	} {
		f, msg := loadErr(t, Options{Path: writeFile(t, body)})
		if msg != "" {
			t.Errorf("%q: %s", body, msg)
			continue
		}
		if f.Appserver.Listen != "unix:data/app.sock" || len(f.Edge.Upstreams["app"].Servers) != 1 || f.Edge.Upstreams["app"].Servers[0] != "unix:data/app.sock" || len(f.Warnings) != 0 {
			t.Errorf("%q: listen %s, upstream app servers %v, warnings %v; want both unix:data/app.sock", body, f.Appserver.Listen, f.Edge.Upstreams["app"].Servers, f.Warnings)
		}
	}
}

// A stronger source setting a key inside a weaker source's list or scalar
// replaced it with a mapping, without a word: with apps given as a list
// (issue 16 item 1) and STACK_APPS_POLLS_SECRET_KEY set, check said valid
// and polls ran with debug on. And a YAML mapping from a variable was
// dropped by a --set of a key inside it.
func TestSettingInsideANonMappingIsReported(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("STACK_APPS_POLLS_SECRET_KEY", "k")
	path := writeFile(t, "apps:\n  - polls:\n      debug: false\n")
	_, msg := loadErr(t, Options{Path: path})
	for _, want := range []string{
		"STACK_APPS_POLLS_SECRET_KEY: apps.polls.secret_key: apps is a list in " + path + ", which holds no keys; ignored",
		path + ": apps: expected a mapping of app names",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("err = %q, want %q", msg, want)
		}
	}
	os.Unsetenv("STACK_APPS_POLLS_SECRET_KEY")

	path = writeFile(t, "edge:\n  listen: [\"127.0.0.1:8000\"]\n")
	if _, msg := loadErr(t, Options{Path: path, Set: []string{"edge.listen.port=9"}}); !strings.Contains(msg, "--set edge.listen.port: edge.listen.port: edge.listen is a list in "+path+", which holds no keys; ignored") {
		t.Errorf("--set inside a list: err = %q", msg)
	}

	// A mapping written as YAML in a variable merges with a --set inside it.
	t.Setenv("STACK_EDGE_UPSTREAMS", "{api: {servers: [\"127.0.0.1:9\"]}, app: {}}")
	f, msg := loadErr(t, Options{Set: []string{"edge.upstreams.api.read_timeout=5s"}})
	if msg != "" {
		t.Fatal(msg)
	}
	if api := f.Edge.Upstreams["api"]; len(api.Servers) != 1 || api.ReadTimeout != 5*time.Second {
		t.Errorf("upstream api = %+v, want the variable's servers and the flag's read_timeout", api)
	}
	// An upstream's name is not a setting's: "api" is not a secret.
	out, _ := f.YAML(false)
	if !strings.Contains(string(out), "servers: ['127.0.0.1:9']") {
		t.Errorf("the upstream named api was redacted:\n%s", out)
	}
}

// A merge key that names the mapping it is in recursed until the depth
// limit, reported as "nested too deeply" with no line.
func TestSelfMergeNamesItsLine(t *testing.T) {
	path := writeFile(t, "edge: &e\n  upstreams:\n    app:\n      <<: *e\n")
	if _, msg := loadErr(t, Options{Path: path}); !strings.Contains(msg, "or an alias refers to the mapping it is in") || !strings.Contains(msg, "line ") {
		t.Errorf("err = %q", msg)
	}
}

// A NUL byte in a socket path ("\0" in a double-quoted YAML string)
// passed check; up failed with "lstat ...: invalid argument".
func TestCheckRefusesANULInASocketPath(t *testing.T) {
	t.Chdir(t.TempDir())
	path := writeFile(t, "appserver:\n  listen: \"unix:run/a\\0b.sock\"\n")
	if _, msg := loadErr(t, Options{Path: path}); !strings.Contains(msg, `appserver.listen: socket path "run/a\x00b.sock" contains a NUL byte`) {
		t.Errorf("err = %q", msg)
	}
}

// run_dir: ~/stack made a directory named "~" in the working directory,
// without a word: no shell expands ~ in a file.
func TestTildePathsAreWarnedAbout(t *testing.T) {
	t.Chdir(t.TempDir())
	f, msg := loadErr(t, Options{Set: []string{"run_dir=~/stack"}})
	if msg != "" {
		t.Fatal(msg)
	}
	want := `run_dir: "~/stack" is relative to a directory named ~ in the working directory (~ is not expanded)`
	if len(f.Warnings) != 1 || !strings.HasPrefix(f.Warnings[0], want) {
		t.Errorf("warnings = %q, want %q", f.Warnings, want)
	}
}

// Found by running `stack config --explain` and GET /config: a URL
// password holding an unencoded @ (p@ss) showed its end, a libpq
// key=value connection string (host=db password=...) or a URL's
// ?password= query showed it whole, and variables named AUTHORIZATION or
// *_CREDENTIALS were not taken for secrets.
func TestYAMLRedactsPasswordsInDSNsAndOddURLs(t *testing.T) {
	t.Chdir(t.TempDir())
	f, msg := loadErr(t, Options{Set: []string{
		`processes=[{name: p, command: [sh], env: ["DATABASE_URL=postgres://u:p@ss1@h/db", "PGCONN=host=db user=bob password=dsn2 dbname=polls", "Q=postgres://h/db?sslmode=require&password=query3", "AUTHORIZATION=Bearer tok4", "DB_CREDENTIALS=cred5", "HOME_URL=https://example.com:8443/a@b"]}]`,
	}})
	if msg != "" {
		t.Fatal(msg)
	}
	out, _ := f.YAML(false)
	for _, secret := range []string{"p@ss1", "ss1@", "dsn2", "query3", "tok4", "cred5"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("%s printed:\n%s", secret, out)
		}
	}
	for _, want := range []string{"postgres://u:********************@h/db", "host=db user=bob password=******************** dbname=polls",
		"sslmode=require&password=********************", "https://example.com:8443/a@b"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// The admin's status shows commands through RedactCommand: the same
// secrets as stack config hides, the rest as written.
func TestRedactCommand(t *testing.T) {
	got := strings.Join(RedactCommand([]string{"celery", "--broker=redis://:brokerpw@h:6379/0", "--password=cmdpw", "API_TOKEN=t0k", "-A", "proj"}), " ")
	want := "celery --broker=redis://:********************@h:6379/0 --password=******************** API_TOKEN=******************** -A proj"
	if got != want {
		t.Errorf("RedactCommand:\n got %s\nwant %s", got, want)
	}
}

// Secrets given apart from their flag's name, as curl's user:password, or
// as a header, were shown by the admin's status and stack config (break-it
// 15): --token T, --requirepass T, -u user:T, -H 'Authorization: Bearer T'.
func TestRedactCommandHidesSecretsGivenApart(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"worker --token hunter2T -v", "worker --token ******************** -v"},
		{"redis-server --requirepass hunter2T --port 6380", "redis-server --requirepass ******************** --port 6380"},
		{"app --password hunter2T", "app --password ********************"},
		{"curl -u ops:hunter2T http://x/", "curl -u ops:******************** http://x/"},
		{"curl -H Authorization:Bearer-hunter2T http://x/", "curl -H Authorization: ******************** http://x/"},
		{"curl -H X-Api-Key:hunter2T -H Accept:text/plain http://x/", "curl -H X-Api-Key: ******************** -H Accept:text/plain http://x/"},
		{"sleep 1000 --verbose", "sleep 1000 --verbose"},
	} {
		got := strings.Join(RedactCommand(strings.Fields(c.in)), " ")
		if got != c.want {
			t.Errorf("RedactCommand(%s):\n got %s\nwant %s", c.in, got, c.want)
		}
	}
	if got := RedactCommand([]string{"curl", "-H", "Authorization: Bearer hunter2T"}); got[2] != "Authorization: ********************" {
		t.Errorf("a header with a space: %q", got[2])
	}
}

// A location's header match whose name is a secret's (a shared token that
// routes internal requests) has its value hidden by stack config and the
// admin's /config, as a secret key's.
func TestYAMLHidesTheValueOfASecretHeaderMatch(t *testing.T) {
	t.Chdir(t.TempDir())
	path := writeFile(t, `edge:
  locations:
    - path: /internal/
      upstream: app
      header: {name: X-Internal-Token, value: hunter2T}
    - path: /beta/
      upstream: app
      header: {name: X-Beta, value: "yes-please"}
    - path: /
      upstream: app
`)
	f, msg := loadErr(t, Options{Path: path})
	if msg != "" {
		t.Fatal(msg)
	}
	out, _ := f.YAML(false)
	if strings.Contains(string(out), "hunter2T") {
		t.Errorf("the token is shown:\n%s", out)
	}
	if !strings.Contains(string(out), "yes-please") {
		t.Errorf("a header match that is no secret is hidden:\n%s", out)
	}
}
