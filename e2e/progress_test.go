package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// `stack migrate` and `stack collectstatic` say what they do and how far
// along they are; migrate is idempotent, and an app without migrations
// has nothing to do.
func TestMigrateAndCollectstaticShowProgress(t *testing.T) {
	dir := writeConfig(t, "run_dir: data\napps: {polls: {debug: true}}\n")
	out, code := configRun(t, dir, opsFastExit, "migrate")
	if code != 0 {
		t.Fatalf("migrate: exit %d:\n%s", code, out)
	}
	for _, want := range []string{
		"Apply all migrations: polls (database data/polls.sqlite3)",
		"[1/2] Applying polls.0001_initial... OK",
		"[2/2] Seeding 5 sample questions... OK",
		"stack: app polls migrated in ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate output lacks %q:\n%s", want, out)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "data", "polls.sqlite3")); err != nil || fi.Size() == 0 {
		t.Errorf("no database after migrate: %v", err)
	}
	if out, code := configRun(t, dir, opsFastExit, "migrate"); code != 0 || !strings.Contains(out, "No migrations to apply.") {
		t.Errorf("second migrate: exit %d:\n%s", code, out)
	}
	if out, code := configRun(t, dir, opsFastExit, "migrate", "--set", "appserver.app=hello"); code != 0 || !strings.Contains(out, "app hello has no migrations") {
		t.Errorf("migrate for hello: exit %d:\n%s", code, out)
	}

	static := filepath.Join(dir, "static")
	out, code = configRun(t, dir, opsFastExit, "collectstatic", static)
	if code != 0 {
		t.Fatalf("collectstatic: exit %d:\n%s", code, out)
	}
	steps := regexp.MustCompile(`(?m)^  \[(\d+)/(\d+)\] (\S+) \(\d+(\.\d)? (B|KiB|MiB)\)$`).FindAllStringSubmatch(out, -1)
	if len(steps) < 2 || steps[len(steps)-1][1] != steps[0][2] {
		t.Fatalf("collectstatic shows no [i/n] progress to the end:\n%s", out)
	}
	for _, s := range steps {
		if _, err := os.Stat(filepath.Join(static, s[3])); err != nil {
			t.Errorf("%s listed but not copied: %v", s[3], err)
		}
	}
	if !strings.Contains(out, steps[0][2]+" static files copied to "+static) {
		t.Errorf("no summary line:\n%s", out)
	}
}
