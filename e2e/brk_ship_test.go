package e2e

import (
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

const brkShipDebugYAML = `
run_dir: run
shutdown_timeout: 5s
edge:
  listen: ["127.0.0.1:0"]
appserver:
  app: polls
  processes: 2
apps:
  polls:
    debug: true
    allowed_hosts: ["127.0.0.1"]
`

// TestBrkShipWorkersShareTheDebugKey: an app in debug with no secret_key
// (a new project, polls with no file) runs on a random key. Drawn per
// worker, each worker rejected the others' session cookies: with two
// workers, or after a chain reload (every `stack dev` rebuild), the
// session was replaced and a form posted from an open page failed its
// CSRF check with 403. The master now draws one key for all its workers.
func TestBrkShipWorkersShareTheDebugKey(t *testing.T) {
	dir := writeConfig(t, brkShipDebugYAML)
	p := start(t, dir, "up")
	base := p.url()
	waitHTTP(t, base+"/polls/")

	var cookie string
	for i := 0; i < 20 && cookie == ""; i++ {
		cookie = brkShipSessionCookie(t, base, "")
	}
	if cookie == "" {
		t.Fatal("no session cookie from /polls/1/")
	}
	count := func(phase string) {
		replaced := 0
		for i := 0; i < 12; i++ {
			if brkShipSessionCookie(t, base, cookie) != "" {
				replaced++
			}
		}
		t.Logf("%s: %d of 12 requests replaced the session cookie", phase, replaced)
		if replaced > 0 {
			t.Errorf("%s: %d of 12 requests with a valid session cookie were given a new session (a worker with another key)", phase, replaced)
		}
	}
	count("two workers")
	p.cmd.Process.Signal(syscall.SIGHUP) // a chain reload, as each stack dev rebuild
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.Output(), "reloaded") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // the last old worker drains
	count("after a chain reload")
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// brkShipSessionCookie GETs /polls/1/, a form, (with cookie, if any) and returns the
// session cookie it sets, "" if none.
func brkShipSessionCookie(t *testing.T, base, cookie string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/polls/1/", nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /polls/1/: %d", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "sessionid" {
			return c.Name + "=" + c.Value
		}
	}
	return ""
}
