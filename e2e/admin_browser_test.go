package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// adminRun runs a stack command in dir with extra environment variables.
func adminRun(t *testing.T, dir string, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), 0
}

// adminArtifactDirs are where screenshots are kept: a temporary directory
// left in place (its path is logged), and $STACK_TEST_ARTIFACTS/admin.
func adminArtifactDirs(t *testing.T) []string {
	tmp, err := os.MkdirTemp("", "stack-admin-screenshots-")
	if err != nil {
		t.Fatal(err)
	}
	dirs := []string{tmp}
	if a := os.Getenv("STACK_TEST_ARTIFACTS"); a != "" {
		dirs = append(dirs, filepath.Join(a, "admin"))
	}
	return dirs
}

// The admin in a real browser (Debian's headless chromium over the
// DevTools protocol): log in as the superuser made by `stack
// createsuperuser --noinput`, add a question with two choices, see it on
// /polls/, vote, see the vote in the admin list, delete it after the
// confirmation page. Screenshots of each admin page are kept.
func TestAdminInABrowser(t *testing.T) {
	static, err := filepath.Abs("../examples/polls/static")
	if err != nil {
		t.Fatal(err)
	}
	dir := writeConfig(t, fmt.Sprintf(pollsConfig, static))
	out, code := adminRun(t, dir, []string{"STACK_SUPERUSER_PASSWORD=browser-admin-pass", "STACK_SUPERUSER_EMAIL=admin@example.com"},
		"createsuperuser", "--username", "admin", "--noinput")
	if code != 0 || !strings.Contains(out, "Superuser created successfully.") {
		t.Fatalf("createsuperuser: exit %d\n%s", code, out)
	}
	p := start(t, dir, "up")
	base := strings.TrimSuffix(p.url(), "/")
	shots := adminArtifactDirs(t)
	b := adminStartBrowser(t)
	started := time.Now()

	b.open(base + "/admin/")
	if here := b.here(); here != "/admin/login/?next=%2Fadmin%2F" {
		t.Fatalf("anonymous /admin/ led to %s", here)
	}
	b.screenshot("admin-login.png", shots...)
	b.fill(map[string]string{"username": "admin", "password": "wrong-password"}, `input[type=submit]`)
	if !strings.Contains(b.text(), "Please enter the correct username and password for a staff account.") {
		t.Fatalf("a wrong password:\n%s", b.text())
	}
	b.fill(map[string]string{"username": "admin", "password": "browser-admin-pass"}, `input[type=submit]`)
	if here, text := b.here(), b.text(); here != "/admin/" || !strings.Contains(text, "Questions") || !strings.Contains(text, "Welcome, admin. View site") {
		t.Fatalf("after login: %s\n%s", here, text)
	}
	b.screenshot("admin-index.png", shots...)

	// Add a question with two choices, from the list's Add button.
	b.open(base + "/admin/polls/question/")
	b.act(func() { b.evalNavigating(`document.querySelector(".object-tools a").click()`) })
	if b.here() != "/admin/polls/question/add/" {
		t.Fatalf("the Add button led to %s", b.here())
	}
	when := time.Now().Add(-10 * time.Minute).Format("2006-01-02T15:04:05")
	b.fill(map[string]string{
		"question_text": "Which browser is headless?", "pub_date": when,
		"choice_set-0-choice_text": "Chromium", "choice_set-1-choice_text": "Firefox",
	}, `input[name=_continue]`)
	if text := b.text(); !strings.Contains(text, "The question “Which browser is headless?” was added successfully. You may edit it again below.") {
		t.Fatalf("after adding (at %s):\n%s", b.here(), text)
	}
	b.screenshot("admin-change.png", shots...)
	change := b.here()

	// On the site: the question, its page, a vote.
	b.open(base + "/polls/")
	if !strings.Contains(b.text(), "Which browser is headless?") {
		t.Fatalf("/polls/ does not list the new question:\n%s", b.text())
	}
	b.act(func() {
		b.evalNavigating(`[...document.querySelectorAll("a")].find(a => a.textContent === "Which browser is headless?").click()`)
	})
	b.act(func() {
		b.evalNavigating(`[...document.querySelectorAll("label.choice")].find(l => l.textContent.trim() === "Chromium").querySelector("input").click();
			document.querySelector("form.vote button[type=submit]").click()`)
	})
	if text := b.text(); !strings.Contains(text, "Thanks for voting.") || !strings.Contains(text, "1 vote") {
		t.Fatalf("after voting (at %s):\n%s", b.here(), text)
	}

	// The admin list shows the vote.
	b.open(base + "/admin/polls/question/?q=headless")
	row := b.evalString(`[...document.querySelectorAll("#result_list tbody tr")].map(r => [...r.cells].map(c => c.textContent.trim()).join(" | ")).join("\n")`)
	if !strings.HasPrefix(row, "Which browser is headless? | ") || !strings.HasSuffix(row, " | yes | 1") {
		t.Fatalf("the admin list row: %q", row)
	}
	b.open(base + "/admin/polls/question/")
	b.screenshot("admin-list.png", shots...)

	// Delete, after the confirmation page.
	b.open(base + change)
	b.act(func() { b.evalNavigating(`document.querySelector("a.deletelink").click()`) })
	if text := b.text(); !strings.Contains(text, "Are you sure you want to delete the question “Which browser is headless?”") ||
		!strings.Contains(text, "Choice: Chromium") || !strings.Contains(text, "Choice: Firefox") {
		t.Fatalf("the confirmation page (at %s):\n%s", b.here(), text)
	}
	b.screenshot("admin-delete.png", shots...)
	b.fill(map[string]string{}, `input[type=submit]`)
	if here, text := b.here(), b.text(); here != "/admin/polls/question/" || !strings.Contains(text, "The question “Which browser is headless?” was deleted successfully.") {
		t.Fatalf("after deleting: %s\n%s", here, text)
	}
	b.open(base + "/polls/")
	if strings.Contains(b.text(), "Which browser is headless?") {
		t.Error("the deleted question is still on /polls/")
	}
	t.Logf("browser session: %v; screenshots kept in %s", time.Since(started).Round(time.Millisecond), strings.Join(shots, ", "))
}
