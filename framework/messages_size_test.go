package framework

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Flash messages ride in the session cookie. Added and never shown (a view
// adding one per request, or many in one), they grew it without bound:
// past 4 KB a browser drops the cookie, and the session with it. As
// Django's CookieStorage, the oldest are dropped to keep it under 2048
// bytes, and the page can tell how many went.
func TestFlashMessagesKeepTheSessionCookieSmall(t *testing.T) {
	s := testSettings()
	s.AllowedHosts = append(s.AllowedHosts, "127.0.0.1")
	logs := &logBuffer{}
	app := newApp(t, s, Config{URLs: []Pattern{
		Path("add/<int:n>/", func(w http.ResponseWriter, r *Request) error {
			r.Session().Set("user", "ann") // the session keeps its values
			for i := range r.Int("n") {
				r.Messages().Info(fmt.Sprintf("message %s %03d", r.Query().Get("tag"), i) + strings.Repeat(".", 60))
			}
			return nil
		}, "add"),
		Path("show/", func(w http.ResponseWriter, r *Request) error {
			var b strings.Builder
			for _, m := range r.Messages().All() {
				b.WriteString(m.Text[:len("message x 000")] + "\n")
			}
			fmt.Fprintf(&b, "dropped %d user %s", r.Messages().Dropped(), r.Session().GetString("user"))
			_, err := io.WriteString(w, b.String())
			return err
		}, "show"),
	}, Logger: newLogger(logs)})
	srv := httptest.NewServer(app)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	cookieSize := func(resp *http.Response) int {
		for _, ck := range resp.Cookies() {
			if ck.Name == "sessionid" {
				return len(ck.Value)
			}
		}
		return -1
	}
	line := regexp.MustCompile(`(?m)^message [ab] (\d+)$`)

	// Many messages in one request: the newest are kept.
	resp, _ := get("/add/200/?tag=a")
	if n := cookieSize(resp); n < 0 || n > maxMessagesCookie {
		t.Fatalf("200 messages: session cookie of %d bytes, want at most %d", n, maxMessagesCookie)
	}
	_, page := get("/show/")
	kept := line.FindAllStringSubmatch(page, -1)
	if len(kept) < 5 || kept[len(kept)-1][1] != "199" {
		t.Fatalf("the newest messages are not the ones kept:\n%s", page)
	}
	first, _ := strconv.Atoi(kept[0][1])
	if !strings.HasSuffix(page, fmt.Sprintf("dropped %d user ann", first)) || first != 200-len(kept) {
		t.Errorf("kept %d from message %d; the page says:\n%s", len(kept), first, page)
	}
	if !strings.Contains(logs.String(), "flash messages dropped") {
		t.Errorf("the drop is not logged: %s", logs)
	}
	if _, page = get("/show/"); page != "dropped 0 user ann" {
		t.Errorf("shown twice: %q", page)
	}

	// One message per request, never shown: the cookie stays bounded.
	for i := range 60 {
		resp, _ := get("/add/1/?tag=b")
		if n := cookieSize(resp); n < 0 || n > maxMessagesCookie {
			t.Fatalf("request %d: session cookie of %d bytes", i, n)
		}
	}
	_, page = get("/show/")
	if kept := line.FindAllStringSubmatch(page, -1); len(kept) == 0 || !strings.Contains(page, fmt.Sprintf("dropped %d user ann", 60-len(kept))) {
		t.Errorf("after 60 requests:\n%s", page)
	}

	// A few messages are not touched.
	resp, _ = get("/add/3/?tag=a")
	if _, page = get("/show/"); len(line.FindAllString(page, -1)) != 3 || !strings.HasSuffix(page, "dropped 0 user ann") {
		t.Errorf("3 messages:\n%s", page)
	}
}
