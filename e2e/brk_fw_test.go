package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// brkFwLoginForm fetches the admin login page with a fresh client and
// returns the client and the page's CSRF token.
func brkFwLoginForm(t *testing.T, base string) (*http.Client, string) {
	t.Helper()
	c := browser()
	resp, err := c.Get(base + "/admin/login/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRE.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no CSRF token on the login page (%d)", resp.StatusCode)
	}
	return c, string(m[1])
}

// Wrong passwords sent at once to two workers: the throttle's count is
// shared through the database and taken before each password is checked,
// so no more than the limit (5 per username) are checked; the others get
// 429, and so does the right password afterwards.
func TestBrkFwThrottleAcrossWorkers(t *testing.T) {
	static, err := filepath.Abs("../examples/polls/static")
	if err != nil {
		t.Fatal(err)
	}
	dir := writeConfig(t, strings.Replace(fmt.Sprintf(pollsConfig, static), "  app: polls\n", "  app: polls\n  processes: 2\n", 1))
	if out, code := adminRun(t, dir, []string{"STACK_SUPERUSER_PASSWORD=brk-fw-admin-pass"}, "createsuperuser", "--username", "admin", "--noinput"); code != 0 {
		t.Fatalf("createsuperuser: exit %d\n%s", code, out)
	}
	if out, code := adminRun(t, dir, []string{"STACK_SUPERUSER_PASSWORD=brk-fw-other-pass"}, "createsuperuser", "--username", "other", "--noinput"); code != 0 {
		t.Fatalf("createsuperuser: exit %d\n%s", code, out)
	}
	p := start(t, dir, "up")
	base := strings.TrimSuffix(p.url(), "/")

	const guesses = 8
	clients := make([]*http.Client, guesses)
	tokens := make([]string, guesses)
	for i := range guesses {
		clients[i], tokens[i] = brkFwLoginForm(t, base)
	}
	statuses := make([]int, guesses)
	var wg sync.WaitGroup
	start := make(chan struct{})
	began := time.Now()
	for i := range guesses {
		wg.Go(func() {
			<-start
			resp, err := clients[i].PostForm(base+"/admin/login/", url.Values{"csrfmiddlewaretoken": {tokens[i]},
				"username": {"admin"}, "password": {fmt.Sprintf("guess-%d", i)}})
			if err != nil {
				t.Errorf("guess %d: %v", i, err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	close(start)
	wg.Wait()
	checked, throttled := 0, 0
	for i, s := range statuses {
		switch s {
		case http.StatusOK:
			checked++
		case http.StatusTooManyRequests:
			throttled++
		default:
			t.Errorf("guess %d: status %d, want 200 (the form again) or 429", i, s)
		}
	}
	t.Logf("%d wrong passwords at once through the edge to 2 workers: %d checked, %d throttled, in %v",
		guesses, checked, throttled, time.Since(began).Round(time.Millisecond))
	if checked > 5 {
		t.Errorf("%d passwords checked, want at most the limit, 5", checked)
	}
	c, tok := brkFwLoginForm(t, base)
	resp, err := c.PostForm(base+"/admin/login/", url.Values{"csrfmiddlewaretoken": {tok},
		"username": {"admin"}, "password": {"brk-fw-admin-pass"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the right password after the guesses: %d, want 429", resp.StatusCode)
	}

	// A copy of another user's session cookie, taken before their logout,
	// is anonymous after it on both workers.
	c, tok = brkFwLoginForm(t, base)
	resp, err = c.PostForm(base+"/admin/login/", url.Values{"csrfmiddlewaretoken": {tok},
		"username": {"other"}, "password": {"brk-fw-other-pass"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u, _ := url.Parse(base + "/")
	stolen := c.Jar.Cookies(u)
	if resp.StatusCode != http.StatusFound || len(stolen) == 0 {
		t.Fatalf("login as other: %d, cookies %v", resp.StatusCode, stolen)
	}
	resp, err = c.Get(base + "/admin/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRE.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no CSRF token on /admin/ (%d)", resp.StatusCode)
	}
	if resp, err = c.PostForm(base+"/admin/logout/", url.Values{"csrfmiddlewaretoken": {string(m[1])}}); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	for i := range 4 {
		req, _ := http.NewRequest("GET", base+"/admin/", nil)
		for _, ck := range stolen {
			req.AddCookie(ck)
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Errorf("replay %d of a session cookie taken before logout: %d, want 302 to the login", i, resp.StatusCode)
		}
	}
}

// `stack changepassword` with its answers piped in refuses a common
// password (Django's CommonPasswordValidator): the offer to bypass it
// meets the end of the input, and the command fails, the password unchanged.
func TestBrkFwChangepasswordRefusesCommon(t *testing.T) {
	static, err := filepath.Abs("../examples/polls/static")
	if err != nil {
		t.Fatal(err)
	}
	dir := writeConfig(t, fmt.Sprintf(pollsConfig, static))
	if out, code := adminRun(t, dir, []string{"STACK_SUPERUSER_PASSWORD=brk-fw-admin-pass"}, "createsuperuser", "--username", "admin", "--noinput"); code != 0 {
		t.Fatalf("createsuperuser: exit %d\n%s", code, out)
	}
	cmd := exec.Command(binary, "changepassword", "admin")
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	cmd.Stdin = strings.NewReader("password\npassword\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(out.String(), "This password is too common.") {
		t.Errorf("changepassword to %q: %v\n%s", "password", err, out.String())
	}
}
