package e2e

import (
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

const pollsConfig = `
run_dir: run
edge:
  listen: ["127.0.0.1:0"]
  locations:
    - {path: /static/, root: %s}
    - {path: /, upstream: app}
  upstreams:
    app: {servers: ["unix:run/app.sock"]}
appserver:
  listen: unix:run/app.sock
  app: polls
apps:
  polls:
    debug: false
    secret_key: e2e-secret-key-0123456789abcdef
    allowed_hosts: ["127.0.0.1"]
`

var csrfRE = regexp.MustCompile(`name="csrfmiddlewaretoken" value="([^"]+)"`)

func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func TestPollsThroughTheWholeStack(t *testing.T) {
	static, err := filepath.Abs("../examples/polls/static")
	if err != nil {
		t.Fatal(err)
	}
	dir := writeConfig(t, fmt.Sprintf(pollsConfig, static))
	p := start(t, dir, "up")
	base := strings.TrimSuffix(p.url(), "/")

	// The index lists the questions, with the stylesheet served by the edge.
	code, _, index := get(t, base+"/")
	if code != 200 || !strings.Contains(index, "What&#39;s new?") || !strings.Contains(index, "/static/polls/style.css") {
		t.Fatalf("index: %d\n%s", code, index)
	}
	code, hdr, css := get(t, base+"/static/polls/style.css")
	if code != 200 || !strings.Contains(css, "--brand") || hdr.Get("ETag") == "" {
		t.Errorf("stylesheet: %d etag %q", code, hdr.Get("ETag"))
	}
	if code, _, _ := get(t, base+"/polls/999/"); code != 404 {
		t.Errorf("unknown question: %d", code)
	}

	// The vote form round-trips with its CSRF token.
	b := browser()
	resp, err := b.Get(base + "/polls/1/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRE.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the detail page:\n%s", page)
	}
	token := string(m[1])
	resp, err = b.PostForm(base+"/polls/1/vote/", url.Values{"csrfmiddlewaretoken": {token}, "choice": {"1"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/polls/1/results/" {
		t.Fatalf("vote: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = b.Get(base + "/polls/1/results/")
	if err != nil {
		t.Fatal(err)
	}
	results, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(results), "Thanks for voting.") || !strings.Contains(string(results), "1 vote<") {
		t.Errorf("results after one vote:\n%s", results)
	}
	resp, err = http.PostForm(base+"/polls/1/vote/", url.Values{"choice": {"1"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("vote without a token: %d, want 403", resp.StatusCode)
	}

	// 2,000 votes from 50 concurrent clients through the edge: all counted.
	const clients, perClient = 50, 40
	var failed atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(3 * time.Minute)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			c := browser()
			resp, err := c.Get(base + "/polls/2/")
			if err != nil {
				failed.Add(perClient)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			m := csrfRE.FindSubmatch(page)
			if m == nil {
				failed.Add(perClient)
				firstErr.CompareAndSwap(nil, "no token")
				return
			}
			for j := range perClient {
				if time.Now().After(deadline) {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, "deadline")
					continue
				}
				choice := fmt.Sprint(4 + (i+j)%3) // the choices of question 2
				resp, err := c.PostForm(base+"/polls/2/vote/", url.Values{"csrfmiddlewaretoken": {string(m[1])}, "choice": {choice}})
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusFound {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprint("status ", resp.StatusCode))
				}
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Errorf("%d votes failed, e.g. %v", n, firstErr.Load())
	}
	if code := p.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}

	db, err := sql.Open("sqlite", filepath.Join(dir, "run", "polls.sqlite3"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var total int
	if err := db.QueryRow(`SELECT sum(votes) FROM choice WHERE question_id = 2`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total != clients*perClient {
		t.Errorf("the database counts %d votes for question 2, want exactly %d", total, clients*perClient)
	}
}

func TestRoutesAndCollectstatic(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, code := run(t, dir, "routes")
	if code != 0 {
		t.Fatalf("routes: %d %s", code, stderr)
	}
	for _, want := range []string{"/polls/<int:question_id>/vote/", "polls:vote", "polls.App.vote", "POST", "polls:results"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stack routes lacks %q:\n%s", want, stdout)
		}
	}
	out := filepath.Join(dir, "collected")
	stdout, stderr, code = run(t, dir, "collectstatic", out)
	if code != 0 || !strings.Contains(stdout, "static files copied") {
		t.Fatalf("collectstatic: %d %s %s", code, stdout, stderr)
	}
	css, err := readFile(filepath.Join(out, "polls", "style.css"))
	if err != nil || !strings.Contains(css, "--brand") {
		t.Errorf("collected style.css: %v", err)
	}
	// Inspecting the app created nothing in the working directory.
	if _, err := readFile(filepath.Join(dir, "run", "polls.sqlite3")); err == nil {
		t.Error("stack routes created the database in run/")
	}
}

// TestRepositoryStackYAML runs the stack.yaml a newcomer meets, from the
// repository root, with only the addresses moved to temporary places.
func TestRepositoryStackYAML(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	sock := "unix:" + filepath.Join(tmp, "app.sock")
	p := start(t, root, "up", "-c", "stack.yaml", "--listen", "127.0.0.1:0",
		"--set", "run_dir="+tmp, "--set", "appserver.listen="+sock, "--set", "edge.upstreams.app.servers="+sock)
	base := strings.TrimSuffix(p.url(), "/")
	code, _, index := get(t, base+"/")
	if code != 200 || !strings.Contains(index, "Latest polls") {
		t.Fatalf("GET /: %d\n%s", code, index)
	}
	code, hdr, _ := get(t, base+"/static/polls/style.css")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/css") {
		t.Errorf("the edge does not serve polls' CSS: %d %q", code, hdr.Get("Content-Type"))
	}
	if code := p.stop(syscall.SIGINT); code != 0 {
		t.Errorf("exit %d after SIGINT", code)
	}
}
