package scaffold

import (
	"bytes"
	"fmt"
	"go/format"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
)

// stackNew runs `stack new ARGS` and returns its exit status (1 on an
// error, which is appended to stderr as stack prints it).
func stackNew(args []string, stdout, stderr *bytes.Buffer) int {
	cmd := Command(stdout, stderr)
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(stderr, "stack:", err)
		return 1
	}
	return 0
}

// TestNewWritesAProject renders the template tree (without go mod tidy,
// which the e2e test TestNewProject runs with the build): every file is
// written, no template action is left, the Go files are gofmt-clean, and
// the names are the project's.
func TestNewWritesAProject(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "site")
	var out, errb bytes.Buffer
	if code := stackNew([]string{"blog", "--dir", dir, "--module", "example.com/blog", "--stack-path", "../../..", "--no-tidy"}, &out, &errb); code != 0 {
		t.Fatalf("stack new: exit %d\n%s%s", code, out.String(), errb.String())
	}
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files = append(files, rel)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte("[[")) || bytes.Contains(b, []byte("NAME")) && !strings.HasSuffix(rel, "README.md") {
			t.Errorf("%s: a template action or NAME is left:\n%s", rel, b)
		}
		if strings.HasSuffix(rel, ".go") {
			if f, err := format.Source(b); err != nil || !bytes.Equal(f, b) {
				t.Errorf("%s is not gofmt-clean (%v)", rel, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".gitignore", "Dockerfile", "README.md", "app/app.go", "app/app_test.go", "app/migrate.go", "app/models.go",
		"app/static/blog/style.css", "app/templates/base.html", "app/templates/blog/index.html", "app/urls.go", "app/views.go",
		"go.mod", "main.go", "stack.yaml"}
	if strings.Join(files, " ") != strings.Join(want, " ") {
		t.Errorf("files:\n got %v\nwant %v", files, want)
	}
	mod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	abs, _ := filepath.Abs("../../..")
	for _, s := range []string{"module example.com/blog", "require github.com/stack-web/stack v", "replace github.com/stack-web/stack => " + abs} {
		if !strings.Contains(string(mod), s) {
			t.Errorf("go.mod lacks %q:\n%s", s, mod)
		}
	}
	if main, _ := os.ReadFile(filepath.Join(dir, "main.go")); !strings.Contains(string(main), `"example.com/blog/app"`) {
		t.Errorf("main.go does not import the project's app package:\n%s", main)
	}
}

func TestNewRefuses(t *testing.T) {
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "keep.txt"), []byte("mine"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"My-Site", "--no-tidy"}, "is not a project name"},
		{[]string{"site", "--dir", full, "--no-tidy"}, "exists and is not empty"},
		{[]string{"site", "--dir", filepath.Join(t.TempDir(), "x"), "--stack-path", t.TempDir(), "--no-tidy"}, "not a checkout of stack"},
		{[]string{"site", "--dir", "/proc/stack-new-test", "--no-tidy"}, "new: mkdir /proc/stack-new-test"},
		{[]string{"site", "--dir", filepath.Join(t.TempDir(), "x"), "--module", "my site", "--no-tidy"}, "is not a Go module path"},
		{[]string{"site", "--dir", filepath.Join(t.TempDir(), "x"), "--module", "x/../y", "--no-tidy"}, "is not a Go module path"},
		{[]string{"site", "--dir", filepath.Join(t.TempDir(), "x"), "--module", "-x", "--no-tidy"}, "is not a Go module path"},
		// Names the go command refuses as a module path, or cannot build.
		{[]string{"go", "--dir", filepath.Join(t.TempDir(), "x"), "--no-tidy"}, `"go" cannot be the module path`},
		{[]string{"toolchain", "--dir", filepath.Join(t.TempDir(), "x"), "--no-tidy"}, `"toolchain" cannot be the module path`},
		{[]string{"std", "--dir", filepath.Join(t.TempDir(), "x"), "--no-tidy"}, `"std" cannot be the module path`},
		{[]string{"work", "--dir", filepath.Join(t.TempDir(), "x"), "--no-tidy"}, `"work" cannot be the module path`},
		{[]string{"vendor", "--dir", filepath.Join(t.TempDir(), "x"), "--no-tidy"}, `"vendor" cannot be the module path`},
		{[]string{"site", "--dir", filepath.Join(t.TempDir(), "x"), "--module", "example.com/vendor/site", "--no-tidy"}, "cannot be the module path"},
	} {
		var out, errb bytes.Buffer
		if code := stackNew(tc.args, &out, &errb); code != 1 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want 1 and %q", tc.args, code, errb.String(), tc.want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(full, "keep.txt")); string(b) != "mine" {
		t.Error("a refused stack new touched the directory")
	}
}

// TestNewStackPathWithSpace: a checkout in a directory whose name has a
// space must still give a go.mod the go command reads (the replace path
// quoted), not "malformed module path".
func TestNewStackPathWithSpace(t *testing.T) {
	checkout := filepath.Join(t.TempDir(), "my stack")
	if err := os.Mkdir(checkout, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(checkout, "go.mod"), []byte("module github.com/stack-web/stack\n"), 0o644)
	dir := filepath.Join(t.TempDir(), "site")
	var out, errb bytes.Buffer
	if code := stackNew([]string{"site", "--dir", dir, "--stack-path", checkout, "--no-tidy"}, &out, &errb); code != 0 {
		t.Fatalf("stack new: exit %d\n%s%s", code, out.String(), errb.String())
	}
	b, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	f, err := modfile.Parse("go.mod", b, nil)
	if err != nil {
		t.Fatalf("the go.mod written does not parse: %v\n%s", err, b)
	}
	if len(f.Replace) != 1 || f.Replace[0].New.Path != checkout {
		t.Errorf("replace = %+v, want => %q\n%s", f.Replace, checkout, b)
	}
}
