package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The README tests run what README.md shows, as it shows it, so that a
// change that makes the README wrong fails the build: the commands that
// start the stack, the ownapp command and its Go source, and the `stack
// check` example with its output. They run on temporary directories and
// free ports; only the listen address is changed.

// readmeBlock is a fenced block of README.md.
type readmeBlock struct {
	lang string // the info string: sh, go, yaml, console, or empty
	text string // the lines between the fences, each ending in \n
	line int    // the line of the opening fence, for messages
}

func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var blocks []readmeBlock
	var cur *readmeBlock
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &readmeBlock{lang: strings.TrimPrefix(line, "```"), line: i + 1}
		case cur != nil && line == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		}
	}
	return blocks
}

// readmeCommands returns the command lines (comments removed) of the sh
// blocks that start with prefix.
func readmeCommands(t *testing.T, prefix string) []string {
	t.Helper()
	var cmds []string
	for _, b := range readmeBlocks(t) {
		if b.lang != "sh" {
			continue
		}
		for _, line := range strings.Split(b.text, "\n") {
			line, _, _ = strings.Cut(line, "#")
			if line = strings.TrimSpace(line); strings.HasPrefix(line, prefix) {
				cmds = append(cmds, line)
			}
		}
	}
	if len(cmds) == 0 {
		t.Fatalf("README.md has no sh command starting with %q", prefix)
	}
	return cmds
}

// readmeBlockAfter returns the first block after the one containing marker.
func readmeBlockAfter(t *testing.T, marker string) readmeBlock {
	t.Helper()
	blocks := readmeBlocks(t)
	for i, b := range blocks {
		if strings.Contains(b.text, marker) && i+1 < len(blocks) {
			return blocks[i+1]
		}
	}
	t.Fatalf("README.md has no block after one containing %q", marker)
	return readmeBlock{}
}

// readmeStackDir is a temporary directory holding the repository's
// stack.yaml and examples/ (for its static root), so that `stack up` runs
// as it does at the root, with its own run directory.
func readmeStackDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfg, err := os.ReadFile("../stack.yaml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "stack.yaml"), cfg, 0o644)
	examples, _ := filepath.Abs("../examples")
	if err := os.Symlink(examples, filepath.Join(dir, "examples")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The first command and the line `stack up` prints, in both modes, and the
// graceful stop the README promises for the built binary.
func TestReadmeStackUp(t *testing.T) {
	var cmds []string
	for _, prefix := range []string{"go run ./cmd/stack up", "./stack up"} {
		cmds = append(cmds, readmeCommands(t, prefix)...)
	}
	inprocess := readmeBlockAfter(t, "go run ./cmd/stack up").text
	subprocess := readmeBlockAfter(t, "stack: serving polls at").text
	ran := map[string]bool{}
	for _, c := range cmds {
		args := strings.Fields(c)[slices.Index(strings.Fields(c), "up"):]
		if ran[strings.Join(args, " ")] {
			continue // the same command built or run by go
		}
		ran[strings.Join(args, " ")] = true
		for _, mode := range []string{"inprocess", "subprocess"} {
			t.Run(mode+" "+c, func(t *testing.T) {
				dir := readmeStackDir(t)
				port := freePort(t)
				p := start(t, dir, append(args, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--set", "mode="+mode)...)
				want := inprocess
				if mode == "subprocess" {
					want = subprocess
				}
				want = strings.ReplaceAll(want, "127.0.0.1:8000", fmt.Sprintf("127.0.0.1:%d", port))
				url := fmt.Sprintf("http://127.0.0.1:%d/", port)
				waitHTTP(t, url)
				readmeWaitLines(t, p, want)
				if code, _, body := get(t, url+"polls/"); code != 200 || !strings.Contains(body, "<html") {
					t.Errorf("GET /polls/: %d %.200s", code, body)
				}
				if code := p.stop(syscall.SIGTERM); code != 0 {
					t.Errorf("SIGTERM: exit status %d, the README says 0", code)
				}
				if _, err := os.Stat(filepath.Join(dir, "run", "app.sock")); err == nil {
					t.Errorf("run/app.sock is left after the stop")
				}
			})
		}
	}
}

// readmeWaitLines waits until every line of want is a line of p's output
// (stack lines in any order: the subprocess children start side by side).
func readmeWaitLines(t *testing.T, p *proc, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := strings.Split(p.Output(), "\n")
		var missing []string
		for _, w := range strings.Split(strings.TrimSpace(want), "\n") {
			if !slices.Contains(got, w) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the README shows lines the stack does not print:\n%s\noutput:\n%s", strings.Join(missing, "\n"), p.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The `stack check` example: the README's bad file and variable give the
// README's output, line for line, and exit status 1.
func TestReadmeStackCheck(t *testing.T) {
	blocks := readmeBlocks(t)
	i := slices.IndexFunc(blocks, func(b readmeBlock) bool {
		return b.lang == "console" && strings.Contains(b.text, "stack check")
	})
	if i < 1 || blocks[i-1].lang != "yaml" {
		t.Fatal("README.md has no yaml block followed by a console block running `stack check`")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "stack.yaml"), []byte(blocks[i-1].text), 0o644)

	command, want, _ := strings.Cut(blocks[i].text, "\n")
	words := strings.Fields(strings.TrimPrefix(command, "$ "))
	env := cleanEnv()
	for len(words) > 0 && strings.Contains(words[0], "=") {
		env = append(env, words[0])
		words = words[1:]
	}
	if len(words) < 2 || words[0] != "stack" {
		t.Fatalf("README line %d: %q is not a stack command", blocks[i].line, command)
	}
	cmd := exec.Command(binary, words[1:]...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if string(out) != want || code != 1 {
		t.Errorf("README line %d: %s\nexit status %d (the README says 1), output:\n%s\nthe README shows:\n%s", blocks[i].line, command, code, out, want)
	}
}

// The ownapp command, run as written with `go run` from the root: it
// prints the README's line, its app answers at the URL in it, and the
// README's Go snippet is examples/ownapp/main.go and compiles on its own
// against this module.
func TestReadmeOwnApp(t *testing.T) {
	snippet := ""
	for _, b := range readmeBlocks(t) {
		if b.lang == "go" && strings.Contains(b.text, "cli.Main(") {
			snippet = b.text
		}
	}
	file, err := os.ReadFile("../examples/ownapp/main.go")
	if err != nil {
		t.Fatal(err)
	}
	if snippet != string(file) {
		t.Errorf("the README's Go snippet differs from examples/ownapp/main.go, which it says it shows whole")
	}
	readmeCompile(t, snippet)

	c := readmeCommands(t, "go run ./examples/ownapp")[0]
	port := freePort(t)
	runDir := t.TempDir()
	args := append(strings.Fields(c)[1:], "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--set", "run_dir="+runDir)
	cmd := exec.Command("go", args...)
	cmd.Dir = ".."
	cmd.Env = cleanEnv()
	// `go run` does not pass SIGTERM on (as the README says): the whole
	// process group is stopped.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); pw.Close(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})

	want := readmeBlockAfter(t, c).text
	want = strings.ReplaceAll(want, "127.0.0.1:8000", fmt.Sprintf("127.0.0.1:%d", port))
	want = strings.ReplaceAll(want, "unix:run/", "unix:"+runDir+"/")
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	var seen []string
	timeout := time.After(90 * time.Second) // go run compiles first
	for found := false; !found; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("%s exited:\n%s", c, strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			found = l+"\n" == want
		case <-timeout:
			t.Fatalf("%s did not print the README's line %q within 90s:\n%s", c, want, strings.Join(seen, "\n"))
		}
	}
	go func() {
		for range lines {
		}
	}()

	url := regexp.MustCompile(`http://\S+/`).FindString(want)
	for _, path := range []string{"", "notes/any"} {
		code, _, body := get(t, url+path)
		var got map[string]any
		if code != 200 || json.Unmarshal([]byte(body), &got) != nil || got["title"] != "My notes" {
			t.Errorf("GET %s%s: %d %q", url, path, code, body)
		}
		if path == "" && !strings.Contains(readmeBlocksText(t), "`"+strings.TrimSpace(body)+"`") {
			t.Errorf("GET %s answers %s, which the README does not show", url, body)
		}
	}
}

func readmeBlocksText(t *testing.T) string {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// readmeCompile builds src as the main package of a new module that
// requires this one through a replace directive, as a user's program would.
func readmeCompile(t *testing.T, src string) {
	t.Helper()
	root, _ := filepath.Abs("..")
	dir := t.TempDir()
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	gomod := "module example.com/readme\n\ngo 1.26\n\nrequire github.com/stack-web/stack v0.0.0\n\nreplace github.com/stack-web/stack => " + root + "\n"
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644)
	os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-mod=mod", "-o", os.DevNull, ".")
	build.Dir = dir
	build.Env = append(cleanEnv(), "GOFLAGS=-mod=mod", "GOPROXY=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Errorf("the README's Go snippet does not compile in a module of its own: %v\n%s", err, out)
	}
}

// The repository's stack.yaml is "the annotated default": its effective
// configuration is the built-in one but for the static location and the
// two development settings (the access log, polls' debug), all marked in
// the file and the README. (Polls' built-in default is debug off, which
// needs a secret key to load at all, so the defaults are read with debug
// set as the file sets it.)
func TestReadmeStackYAMLIsTheDefault(t *testing.T) {
	dir := readmeStackDir(t)
	annotated, _, code := run(t, dir, "config")
	defaults, _, code2 := run(t, dir, "config", "-c", os.DevNull, "--set", "apps.polls.debug=true")
	if code != 0 || code2 != 0 {
		t.Fatalf("stack config: exit status %d, %d", code, code2)
	}
	_, annotated, _ = strings.Cut(annotated, "\n") // the "from FILE" line
	_, defaults, _ = strings.Cut(defaults, "\n")
	annotated = strings.Replace(annotated, "access_log: stderr\n", "access_log: \"off\"\n", 1)
	// The static location, every key of it (the keys a location has grow).
	static := strings.Index(annotated, "        - path: /static/\n          root: examples/polls/static\n")
	if static < 0 {
		t.Errorf("stack.yaml no longer serves examples/polls/static at /static/ as the README says")
	} else if next := strings.Index(annotated[static+1:], "        - "); next >= 0 {
		annotated = annotated[:static] + annotated[static+1+next:]
	}
	if annotated != defaults {
		t.Errorf("stack.yaml sets values other than the defaults beyond the two the README names:\n%s\ndefaults:\n%s", annotated, defaults)
	}
}

// A user's clone is the whole world: the README and the scripts name no
// path outside the repository.
func TestReadmeStandsAlone(t *testing.T) {
	files, _ := filepath.Glob("../scripts/*")
	for _, f := range append(files, "../README.md") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, outside := range []string{"../shared", "shared/peers", "/work/"} {
			if strings.Contains(string(b), outside) {
				t.Errorf("%s refers to %s, which a clone of the repository does not have", f, outside)
			}
		}
	}
}

// processes[].restart as the configuration reference says: always (the
// default) restarts after exit status 0 too, on-failure leaves a clean
// exit stopped, and a failure under never stops the whole stack with
// exit status 1.
func TestReadmeProcessRestart(t *testing.T) {
	dir := writeConfig(t, `
run_dir: run
appserver: {app: hello}
processes:
  - {name: again, command: [sh, -c, "echo ran"]}
  - {name: once, command: [sh, -c, "echo ran"], restart: on-failure}
`)
	p := start(t, dir, "up", "--listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	p.url()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(p.Output(), "[again] ran") < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := strings.Count(p.Output(), "[again] ran"); n < 2 {
		t.Errorf("restart always (the default): ran %d time(s), want a restart after exit status 0", n)
	}
	if n := strings.Count(p.Output(), "[once] ran"); n != 1 {
		t.Errorf("restart on-failure: ran %d times after exit status 0, want 1", n)
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("SIGTERM: exit status %d", code)
	}

	dir = writeConfig(t, `
run_dir: run
appserver: {app: hello}
processes:
  - {name: fails, command: [sh, -c, "exit 3"], restart: never}
`)
	p = start(t, dir, "up", "--listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("a process failing under restart: never did not stop the stack:\n%s", p.Output())
	}
	if ee, ok := p.err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("a process failing under restart: never: %v, want exit status 1", p.err)
	}
}

// Sizes are binary whatever their unit, as the configuration reference
// says: 1MB is 1 MiB, as nginx's 1m.
func TestReadmeSizeUnits(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []string{"1MB", "1m", "1024KB"} {
		out, _, code := run(t, dir, "config", "-c", os.DevNull, "--set", "apps.polls.debug=true", "--set", "edge.client_max_body_size="+size)
		if code != 0 || !strings.Contains(out, "client_max_body_size: 1MiB\n") {
			t.Errorf("client_max_body_size=%s: exit status %d, want 1MiB in:\n%s", size, code, out)
		}
	}
}
