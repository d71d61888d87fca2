package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// With appserver.user, the workers read the app's template folders as
// that user: `stack check`, run as root, must refuse a folder only root
// can read, which would otherwise pass check and fail `up` at the
// workers' start.
func TestCheckReadsTemplateDirsAsTheWorkersUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root") // the test machine runs as root
	}
	tpl := "  user: nobody\n  group: nogroup\n  app: polls\napps:\n  polls:\n    debug: true\n    template_dirs: [pages]\n"
	dir := writeConfig(t, strings.Replace(workersConfig(tpl), "  app: echo\n", "", 1))
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	data, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "stack")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	pages := filepath.Join(dir, "pages")
	if err := os.Mkdir(pages, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pages, "base.html"), []byte("<p>{{block \"content\" .}}{{end}}</p>"), 0o644); err != nil {
		t.Fatal(err)
	}
	check := func() (string, int) {
		cmd := exec.Command(bin, "check")
		cmd.Dir, cmd.Env = dir, cleanEnv()
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	out, code := check()
	if want := "appserver.user: the workers read apps.polls's pages at start"; code != 1 || !strings.Contains(out, want) || !strings.Contains(out, "is not readable by uid 65534") {
		t.Errorf("root-only template folder: exit %d, want 1 with %q:\n%s", code, want, out)
	}
	os.Chmod(pages, 0o755)
	if out, code := check(); code != 0 {
		t.Errorf("readable template folder: exit %d:\n%s", code, out)
	}
}
