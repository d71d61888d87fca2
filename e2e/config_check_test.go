package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// configBase serves hello on a free port; the socket path follows run_dir.
const configBase = `
run_dir: run
shutdown_timeout: 5s
edge:
  listen: ["127.0.0.1:0"]
appserver:
  app: hello
`

// TestCheckCatchesWhatTheCommandRefuses holds `stack check` to its promise
// (issue 16, items 1, 3, 4, 6 and 9): for each configuration, check and the
// command it checks agree. What check refuses, the command refuses at
// start with the same message; what check calls valid, the command starts
// and serves.
func TestCheckCatchesWhatTheCommandRefuses(t *testing.T) {
	port := freePort(t)
	long := "unix:" + strings.Repeat("s", 110) + ".sock"
	cases := []struct {
		item, name string
		yaml       string // "" means no stack.yaml at all
		env, sets  []string
		cmd        string
		valid      bool
		want       string // in check's and the command's output
		status     int    // for a valid case: GET / through the edge
	}{
		{item: "1", name: "apps given as a list", yaml: configBase + "apps:\n  - polls:\n      debug: false\n",
			cmd: "up", want: "apps: expected a mapping of app names"},
		{item: "1", name: "apps given as a scalar", yaml: configBase + "apps: polls\n",
			cmd: "up", want: "apps: expected a mapping of app names"},
		{item: "3", name: "run_dir elsewhere moves the socket", yaml: configBase, sets: []string{"run_dir=var/data"},
			cmd: "up", valid: true, status: 200},
		{item: "3", name: "appserver.listen no upstream dials",
			yaml: configBase,
			env:  []string{"STACK_APPSERVER_LISTEN=unix:other.sock", "STACK_EDGE_UPSTREAMS_APP_SERVERS=unix:run/app.sock"},
			cmd:  "up", valid: true, want: "no request reaches the app server", status: 502},
		{item: "3", name: "appserver.listen follows to the upstream", yaml: configBase, env: []string{"STACK_APPSERVER_LISTEN=unix:run/other.sock"},
			cmd: "up", valid: true, status: 200},
		{item: "3", name: "socket in a directory that does not exist", yaml: configBase, env: []string{"STACK_APPSERVER_LISTEN=unix:nodir/app.sock"},
			cmd: "up", want: "STACK_APPSERVER_LISTEN: appserver.listen: socket directory nodir"},
		{item: "4", name: "upstream keys from env and --set without a file",
			env:  []string{"STACK_EDGE_LISTEN=127.0.0.1:0", "STACK_APPSERVER_APP=hello", "STACK_EDGE_UPSTREAMS_APP_READ_TIMEOUT=5s"},
			sets: []string{"edge.upstreams.app.connect_timeout=1s"}, cmd: "up", valid: true, status: 200},
		{item: "4", name: "STACK_PROCESSES is read", yaml: configBase, env: []string{"STACK_PROCESSES=[{name: edge, command: [\"true\"]}]"},
			cmd: "up", want: `STACK_PROCESSES: processes[0].name: "edge" is used twice`},
		{item: "6", name: "the same listen address twice", yaml: configBase, sets: []string{fmt.Sprintf("edge.listen=[127.0.0.1:%d, 127.0.0.1:%d]", port, port)},
			cmd: "up", want: "collides with edge.listen[0]"},
		{item: "6", name: "port 99999", yaml: configBase, sets: []string{"edge.listen=127.0.0.1:99999"},
			cmd: "up", want: `port "99999" is not a number from 1 to 65535`},
		{item: "6", name: "port abc", yaml: configBase, sets: []string{"edge.listen=:abc"},
			cmd: "up", want: `port "abc" is not a number`},
		{item: "6", name: "host 999.1.1.1", yaml: configBase, sets: []string{"edge.listen=999.1.1.1:8000"},
			cmd: "up", want: `"999.1.1.1" is not an IP address`},
		{item: "6", name: "empty port", yaml: configBase, sets: []string{"edge.listen=127.0.0.1:"},
			cmd: "up", want: "--set edge.listen: edge.listen[0]: \"127.0.0.1:\" has no port"},
		{item: "6", name: "socket path over 107 bytes", yaml: configBase, sets: []string{"appserver.listen=" + long},
			cmd: "up", want: "longer than the 107 a Unix socket takes"},
		{item: "6", name: "access log that cannot be opened", yaml: configBase, sets: []string{"edge.access_log=nodir/access.log"},
			cmd: "up", want: "edge.access_log: cannot create nodir/access.log"},
		{item: "9", name: "stack edge without the app's secret", yaml: strings.Replace(configBase, "app: hello", "app: polls", 1) + "apps:\n  polls:\n    debug: false\n",
			cmd: "edge", valid: true, status: 502},
		{item: "9", name: "stack up needs the app's secret", yaml: configBase + "apps:\n  polls:\n    debug: false\n", sets: []string{"appserver.app=polls"},
			cmd: "up", want: "apps.polls: secret_key is required"},
	}
	for _, c := range cases {
		t.Run("item"+c.item+"/"+strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			dir := t.TempDir()
			if c.yaml != "" {
				dir = writeConfig(t, c.yaml)
			}
			var args []string
			for _, s := range c.sets {
				args = append(args, "--set", s)
			}
			check := append(args, "check")
			if c.cmd != "up" {
				check = append(check, c.cmd) // check alone checks what up runs
			}
			out, code := configRun(t, dir, c.env, check...)
			if c.valid != (code == 0) || !strings.Contains(out, c.want) {
				t.Fatalf("stack check %s: exit %d, want valid=%v and %q:\n%s", c.cmd, code, c.valid, c.want, out)
			}
			p := configStart(t, dir, c.env, append(args, c.cmd)...)
			if !c.valid {
				code, ok := p.exit(30 * time.Second)
				if !ok || code == 0 || !strings.Contains(p.output(), c.want) {
					t.Fatalf("stack %s after check refused: exited=%v code %d, want non-zero and %q:\n%s", c.cmd, ok, code, c.want, p.output())
				}
				return
			}
			url := p.serving(30 * time.Second)
			if url == "" {
				t.Fatalf("check said valid but stack %s did not start:\n%s", c.cmd, p.output())
			}
			if !strings.Contains(p.output(), c.want) {
				t.Errorf("stack %s output lacks %q:\n%s", c.cmd, c.want, p.output())
			}
			if c.status != 0 {
				resp, err := http.Get(url)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != c.status {
					t.Errorf("GET %s: %d, want %d", url, resp.StatusCode, c.status)
				}
			}
			if code := p.stopWith(syscall.SIGTERM); code != 0 {
				t.Errorf("exit %d after SIGTERM:\n%s", code, p.output())
			}
		})
	}
}

// Issue 16 item 2: run_dir: . kept the project directory's mode.
func TestConfigRunDirModeIsLeftAlone(t *testing.T) {
	dir := writeConfig(t, strings.Replace(configBase, "run_dir: run", "run_dir: .", 1)+"  listen: unix:app.sock\n")
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := configStart(t, dir, nil, "up")
	if p.serving(30*time.Second) == "" {
		t.Fatalf("did not start:\n%s", p.output())
	}
	p.stopWith(syscall.SIGTERM)
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("project directory mode %v (%v), want 0755 kept", fi.Mode().Perm(), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "app.sock")); err == nil {
		t.Error("socket left behind")
	}
}
