package e2e

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNewProject runs `stack new` in a temporary directory, then, in the
// project, `go build`, `go test ./...` and the built binary's `up`, and
// GETs its index and its CSS through the edge, as issue 12 asks. The
// project builds against this checkout (--stack-path, a replace
// directive), so nothing of this module is downloaded; with the same
// -race flag as the stack binary TestMain built, the build reuses its
// cache.
func TestNewProject(t *testing.T) {
	work := t.TempDir()
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	env := append(cleanEnv(), "GOFLAGS=-mod=mod")

	start := time.Now()
	cmd := exec.Command(binary, "new", "mysite", "--stack-path", repo)
	cmd.Dir, cmd.Env = work, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("stack new: %v\n%s", err, out)
	}
	t.Logf("stack new (with go mod tidy) in %s:\n%s", time.Since(start).Round(time.Millisecond), out)
	dir := filepath.Join(work, "mysite")
	for _, f := range []string{"go.mod", "go.sum", "main.go", "stack.yaml", "Dockerfile", ".gitignore", "README.md",
		"app/models.go", "app/migrate.go", "app/urls.go", "app/views.go", "app/app_test.go",
		"app/templates/base.html", "app/templates/mysite/index.html", "app/static/mysite/style.css"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("stack new wrote no %s: %v", f, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "go.mod")); !strings.Contains(string(b), "replace github.com/stack-web/stack => "+repo) {
		t.Errorf("go.mod has no replace to %s:\n%s", repo, b)
	}
	// A second `stack new` into the same directory overwrites nothing.
	again := exec.Command(binary, "new", "mysite", "--no-tidy")
	again.Dir, again.Env = work, env
	if out, err := again.CombinedOutput(); err == nil || !strings.Contains(string(out), "not empty") {
		t.Errorf("stack new into an existing project: %v\n%s", err, out)
	}

	race := []string{}
	if raceEnabled {
		race = []string{"-race"}
	}
	goCmd := func(args ...string) {
		t.Helper()
		start := time.Now()
		c := exec.Command("go", args...)
		c.Dir, c.Env = dir, env
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("go %s in the new project: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("go %s in %s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	}
	goCmd(append(append([]string{"build"}, race...), "-o", "mysite", ".")...)
	goCmd(append(append([]string{"test", "-count=1"}, race...), "./...")...)

	port := dockerFreePort(t)
	up := exec.Command(filepath.Join(dir, "mysite"), "up", "--set", "edge.listen=127.0.0.1:"+port, "--set", "admin.listen=")
	up.Dir, up.Env = dir, env
	stdout, err := up.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	up.Stderr = up.Stdout
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	served := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if m := announce.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case served <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	waited := false
	t.Cleanup(func() {
		if !waited {
			up.Process.Kill()
			<-scanned
			up.Wait()
		}
		if t.Failed() {
			t.Logf("output of mysite up:\n%s", log.String())
		}
	})
	var base string
	select {
	case base = <-served:
	case <-time.After(60 * time.Second):
		t.Fatal("mysite up did not announce a URL within 60s")
	}
	if !strings.HasSuffix(base, ":"+port+"/") {
		t.Fatalf("mysite serves at %s, not on port %s", base, port)
	}

	index := dockerGet(t, base, 5*time.Second)
	if !strings.Contains(index, "<title>Notes · mysite</title>") || !strings.Contains(index, `href="/static/mysite/style.css"`) ||
		!strings.Contains(index, "csrfmiddlewaretoken") {
		t.Errorf("the index is not the project's page with its base layout:\n%s", index)
	}
	resp, err := http.Get(base + "static/mysite/style.css")
	if err != nil {
		t.Fatal(err)
	}
	css, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The edge's static files carry nginx's ETag (mtime-size in hex): the
	// edge, not the app, served it.
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(css), "body {") ||
		!regexp.MustCompile(`^"[0-9a-f]+-[0-9a-f]+"$`).MatchString(resp.Header.Get("Etag")) {
		t.Errorf("GET style.css: %d, ETag %q, body %.80q", resp.StatusCode, resp.Header.Get("Etag"), css)
	}

	up.Process.Signal(syscall.SIGTERM)
	<-scanned
	err = up.Wait()
	waited = true
	if err != nil {
		t.Errorf("mysite up after SIGTERM: %v, want exit status 0", err)
	}
	if !strings.Contains(log.String(), "Applying mysite.0001_initial... OK") {
		t.Errorf("up did not run the project's migration as its release step")
	}
}
