package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// devMain is a user's program: one framework app with a view in Go (the
// version line the test edits) and a page from a template read from disk.
const devMain = `package main

import (
	"io"
	"net/http"

	"github.com/stack-web/stack/cli"
	"github.com/stack-web/stack/framework"
)

func version(w http.ResponseWriter, r *framework.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := io.WriteString(w, "version 1\n")
	return err
}

func page(w http.ResponseWriter, r *framework.Request) error { return r.Render(w, "page.html", nil) }

func main() {
	cli.Main(cli.App{
		Name:     "site",
		Settings: func() any { s := framework.DefaultSettings(); return &s },
		New: func(env cli.Env) (http.Handler, error) {
			return framework.New(*env.Settings.(*framework.Settings), framework.Config{
				URLs:   []framework.Pattern{framework.Path("", version, "version"), framework.Path("page/", page, "page")},
				Logger: env.Logger,
			})
		},
	})
}
`

// edge.processes: 2 is production's; stack dev runs one edge process in
// its own, whose events reload the pages (with the tiers as children, no
// code change ever reached the app).
const devConfig = `run_dir: run
edge:
  listen: ["127.0.0.1:PORT"]
  processes: 2
  locations:
    - {path: /static/, root: static}
    - {path: /, upstream: app}
  upstreams:
    app: {protocol: uwsgi, servers: ["unix:run/app.sock"]}
appserver:
  listen: unix:run/app.sock
  app: site
  processes: 1
apps:
  site:
    debug: true
    template_dirs: [templates]
`

// devProject writes a minimal project of the user's in a temporary
// directory (go.mod replacing this module by the repository, main.go,
// a template, a static file, stack.yaml) and builds it.
func devProject(t *testing.T) (dir, bin string) {
	t.Helper()
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	mod, err := os.ReadFile(filepath.Join(repo, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	// The repository's requirements (all in the module cache already), and
	// this module replaced by the repository.
	gomod := regexp.MustCompile(`(?m)^module .*$`).ReplaceAllString(string(mod), "module example.com/site") +
		"\nrequire github.com/stack-web/stack v0.0.0\n\nreplace github.com/stack-web/stack => " + repo + "\n"
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"go.mod":              gomod,
		"go.sum":              string(sum),
		"main.go":             devMain,
		"templates/page.html": "<!doctype html><html><body><p>template 1</p></body></html>\n",
		"static/site.css":     "body { color: black }\n",
		"stack.yaml":          strings.Replace(devConfig, "PORT", strconv.Itoa(freePort(t)), 1),
	}
	for name, body := range files {
		devWrite(t, dir, name, body)
	}
	bin = filepath.Join(t.TempDir(), "site")
	build := exec.Command("go", "build", "-ldflags=-s -w", "-o", bin, ".")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the project: %v\n%s", err, out)
	}
	return dir, bin
}

func devWrite(t *testing.T, dir, name, body string) {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// devStart runs `BIN dev` in dir, as `go run . dev` would.
func devStart(t *testing.T, dir, bin string) *proc {
	t.Helper()
	cmd := exec.Command(bin, "dev")
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	return startCmd(t, cmd, "dev", nil)
}

// devBody GETs url on a fresh connection and returns the body, or "".
func devBody(url string) string {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// devWaitBody polls url until its body contains want, and returns how long it took.
func devWaitBody(t *testing.T, url, want string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < limit {
		if strings.Contains(devBody(url), want) {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not serve %q within %s (last: %q)", url, want, limit, devBody(url))
	return 0
}

// devStatus reads the dev loop's status through the edge.
type devStatus struct {
	Builds, Failed, Reloads int
	Error                   string
}

func devGetStatus(t *testing.T, base string) devStatus {
	t.Helper()
	var s devStatus
	if err := json.Unmarshal([]byte(devBody(base+"__stack/dev/status")), &s); err != nil {
		t.Fatalf("dev status: %v", err)
	}
	return s
}

// devEvents follows the page's event stream and sends each event's name.
func devEvents(t *testing.T, base string) <-chan string {
	t.Helper()
	resp, err := http.Get(base + "__stack/dev/events")
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, ct)
	}
	ch := make(chan string, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if name, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				select {
				case ch <- name:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() { resp.Body.Close(); <-done })
	return ch
}

// devDrain forgets the events already received.
func devDrain(ch <-chan string) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func devWaitEvent(t *testing.T, ch <-chan string, want string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case name := <-ch:
			if name == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %q event on the page's stream within 30s", want)
		}
	}
}

// TestDev runs `stack dev` in a user's project: a view change is served
// within 5 s with no failed request from a client polling meanwhile; a
// syntax error keeps the last good build serving and is reported in the
// terminal and to the page; a template change needs no rebuild; a change
// to stack.yaml is reloaded; Ctrl-C leaves no process behind.
//
// It does not run in parallel with the other end-to-end tests: the 5 s
// is mostly go build's, which needs the CPU (about 20 s in all).
func TestDev(t *testing.T) {
	dir, bin := devProject(t)
	p := devStart(t, dir, bin)
	base := p.url()
	addr := strings.TrimSuffix(strings.TrimPrefix(base, "http://"), "/")
	if got := devBody(base); got != "version 1\n" {
		t.Fatalf("GET / = %q, want version 1", got)
	}
	page := devBody(base + "page/")
	if !strings.Contains(page, `<script src="/__stack/dev/reload.js"></script></body>`) {
		t.Fatalf("the page has no live-reload script before </body>: %q", page)
	}
	if js := devBody(base + "__stack/dev/reload.js"); !strings.Contains(js, "EventSource") {
		t.Fatalf("reload.js = %q", js)
	}
	events := devEvents(t, base)

	// A view change: rebuilt, chain-reloaded, served within 5 s, while a
	// client that never retries polls through the edge.
	stop := make(chan struct{})
	resc := make(chan *loadResult, 1)
	// Polling, as a browser or a developer would, not flooding: a flood
	// would take the CPU the build needs on a small machine.
	poll := func(int, int) string {
		time.Sleep(10 * time.Millisecond)
		return "GET / HTTP/1.1\r\nHost: " + addr + "\r\n\r\n"
	}
	go func() { resc <- load{Addr: addr, Conns: 2, Request: poll}.run(t, stop, 60*time.Second) }()
	time.Sleep(300 * time.Millisecond)
	devWrite(t, dir, "main.go", strings.Replace(devMain, "version 1", "version 2", 1))
	took := devWaitBody(t, base, "version 2", 30*time.Second)
	time.Sleep(300 * time.Millisecond) // the old worker drains meanwhile
	close(stop)
	res := <-resc
	build := "?"
	if m := regexp.MustCompile(`dev: build ok; chain-reloading the workers" tier=dev took=(\S+)`).FindStringSubmatch(p.Output()); m != nil {
		build = m[1]
	}
	t.Logf("view change served after %s (of which go build %s); load meanwhile: %s", took.Round(time.Millisecond), build, res)
	if took > 5*time.Second {
		t.Errorf("the view change took %s to be served, want within 5s (go build alone took %s)", took, build)
	}
	if res.Failed() > 0 || res.OK == 0 {
		t.Errorf("requests during the rebuild and reload: %s, want all 2xx", res)
	}
	devWaitEvent(t, events, "reload")

	// A syntax error: the terminal and the page's stream report it, the
	// last good build keeps serving.
	devDrain(events)
	before := devGetStatus(t, base)
	devWrite(t, dir, "main.go", strings.Replace(devMain, "version 1\\n\")", "version 3\\n\"", 1))
	devWaitEvent(t, events, "builderror")
	st := devGetStatus(t, base)
	if st.Failed != before.Failed+1 || !strings.Contains(st.Error, "main.go") {
		t.Errorf("status after a syntax error = %+v, want one more failed build naming main.go", st)
	}
	if !strings.Contains(p.Output(), "stack dev: build failed; the last good build keeps serving:") || !strings.Contains(p.Output(), "./main.go:") {
		t.Errorf("the terminal shows no build error")
	}
	if got := devBody(base); got != "version 2\n" {
		t.Errorf("GET / after a failed build = %q, want the last good build's version 2", got)
	}
	devWrite(t, dir, "main.go", strings.Replace(devMain, "version 1", "version 3", 1))
	devWaitBody(t, base, "version 3", 30*time.Second)
	if st := devGetStatus(t, base); st.Error != "" {
		t.Errorf("status after the fix still has an error: %q", st.Error)
	}

	// A template change: served, with no build.
	before = devGetStatus(t, base)
	rebuilds := strings.Count(p.Output(), "dev: rebuilding")
	devDrain(events)
	devWrite(t, dir, "templates/page.html", "<!doctype html><html><body><p>template 2</p></body></html>\n")
	devWaitEvent(t, events, "reload")
	if got := devBody(base + "page/"); !strings.Contains(got, "template 2") {
		t.Errorf("the page after the reload event = %q, want template 2", got)
	}
	if got := devBody(base + "static/site.css"); got != "body { color: black }\n" {
		t.Errorf("site.css = %q", got) // and now in the edge's cache
	}
	devDrain(events)
	devWrite(t, dir, "static/site.css", "body { color: navy }\n")
	devWaitEvent(t, events, "reload")
	if got := devBody(base + "static/site.css"); got != "body { color: navy }\n" {
		t.Errorf("site.css after the reload event = %q, want the new file", got)
	}
	after := devGetStatus(t, base)
	if after.Builds != before.Builds || after.Failed != before.Failed || strings.Count(p.Output(), "dev: rebuilding") != rebuilds {
		t.Errorf("a template and a static change built the program: status %+v → %+v", before, after)
	}

	// A configuration change is reloaded as SIGHUP reloads it: here the
	// edge gains a location.
	devDrain(events)
	cfg, err := os.ReadFile(filepath.Join(dir, "stack.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	devWrite(t, dir, "stack.yaml", strings.Replace(string(cfg), "    - {path: /static/, root: static}\n",
		"    - {path: /static/, root: static}\n    - {path: /assets/, root: static}\n", 1))
	devWaitEvent(t, events, "reload")
	if got := devBody(base + "assets/site.css"); got != "body { color: navy }\n" {
		t.Errorf("GET /assets/site.css after adding its location = %q", got)
	}

	// Ctrl-C in the middle of a build: everything stops, no worker, go
	// command, compiler or linker is left.
	rebuilds = strings.Count(p.Output(), "dev: rebuilding")
	devWrite(t, dir, "main.go", strings.Replace(devMain, "version 1", "version 4", 1))
	for deadline := time.Now().Add(20 * time.Second); strings.Count(p.Output(), "dev: rebuilding") == rebuilds; {
		if time.Now().After(deadline) {
			t.Fatal("no rebuild started within 20s of a change")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := p.stop(syscall.SIGINT); code != 0 {
		t.Errorf("dev exited %d after SIGINT, want 0", code)
	}
	// Killed processes leave /proc once reaped: give them a moment.
	left := devProcessesIn(dir)
	for deadline := time.Now().Add(5 * time.Second); len(left) > 0 && time.Now().Before(deadline); left = devProcessesIn(dir) {
		time.Sleep(50 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Errorf("processes left running from the project after Ctrl-C: %v", left)
	}
}

// devProcessesIn lists the live processes whose command line names dir
// or that run in it (the workers run dir/run/dev/app; the go command and
// its compilers run in dir).
func devProcessesIn(dir string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, pdir := range procs {
		cmdline, err := os.ReadFile(filepath.Join(pdir, "cmdline"))
		if err != nil {
			continue
		}
		if stat, _ := os.ReadFile(filepath.Join(pdir, "stat")); strings.Contains(string(stat), ") Z ") {
			continue // a zombie, exited and waiting for its parent
		}
		cwd, _ := os.Readlink(filepath.Join(pdir, "cwd"))
		if strings.Contains(string(cmdline), dir) || cwd == dir {
			out = append(out, filepath.Base(pdir)+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return out
}
