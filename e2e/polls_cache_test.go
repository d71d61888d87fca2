package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

var pollsTotalRE = regexp.MustCompile(`class="total">(\d+) vote`)

// Each worker keeps polls' last reads while the database does not change:
// a vote committed by one worker is seen by the next read of every worker.
// Rounds of concurrent reads (the edge then opens several upstream
// connections, taken by both workers) around each vote.
func TestPollsCacheSeesVotesOfEveryWorker(t *testing.T) {
	static, err := filepath.Abs("../examples/polls/static")
	if err != nil {
		t.Fatal(err)
	}
	dir := writeConfig(t, strings.Replace(fmt.Sprintf(pollsConfig, static), "  app: polls\n", "  app: polls\n  processes: 2\n", 1))
	p := start(t, dir, "up")
	base := strings.TrimSuffix(p.url(), "/")
	readAll := func(want int) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan string, 16)
		for range 16 {
			wg.Go(func() {
				resp, err := http.Get(base + "/polls/2/results/")
				if err != nil {
					errs <- err.Error()
					return
				}
				page, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				m := pollsTotalRE.FindSubmatch(page)
				if resp.StatusCode != 200 || m == nil || string(m[1]) != fmt.Sprint(want) {
					errs <- fmt.Sprintf("%d, total %q, want %d", resp.StatusCode, m, want)
				}
			})
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Errorf("results after %d votes: %s", want, e)
		}
	}
	readAll(0)
	b := browser()
	for votes := 1; votes <= 4; votes++ {
		resp, err := b.Get(base + "/polls/2/")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := csrfRE.FindSubmatch(page)
		if m == nil {
			t.Fatalf("no CSRF token in the detail page:\n%s", page)
		}
		resp, err = b.PostForm(base+"/polls/2/vote/", url.Values{"csrfmiddlewaretoken": {string(m[1])}, "choice": {"4"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("vote %d: %d", votes, resp.StatusCode)
		}
		readAll(votes)
		readAll(votes)
	}
}
