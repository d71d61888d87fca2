package framework

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAllowedHosts(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	tests := []struct {
		name  string
		hosts []string
		debug bool
		host  string
		allow bool
	}{
		{"exact", []string{"example.com"}, false, "example.com", true},
		{"port ignored", []string{"example.com"}, false, "example.com:8000", true},
		{"case-insensitive", []string{"example.com"}, false, "EXAMPLE.com", true},
		{"trailing dot", []string{"example.com"}, false, "example.com.", true},
		{"other host", []string{"example.com"}, false, "evil.com", false},
		{"suffix is not a subdomain", []string{"example.com"}, false, "notexample.com", false},
		{"subdomain not allowed by exact", []string{"example.com"}, false, "www.example.com", false},
		{"wildcard subdomain", []string{".example.com"}, false, "www.example.com", true},
		{"wildcard deeper", []string{".example.com"}, false, "a.b.example.com:443", true},
		{"wildcard bare domain", []string{".example.com"}, false, "example.com", true},
		{"wildcard lookalike", []string{".example.com"}, false, "evilexample.com", false},
		{"star", []string{"*"}, false, "anything.example", true},
		{"star rejects invalid", []string{"*"}, false, "bad host", false},
		{"bad port", []string{"example.com"}, false, "example.com:x", false},
		{"empty host", []string{"example.com"}, false, "", false},
		{"ipv6 listed", []string{"[::1]"}, false, "[::1]:8000", true},
		{"empty list outside debug", nil, false, "localhost", false},
		{"debug localhost", nil, true, "localhost:8000", true},
		{"debug localhost subdomain", nil, true, "app.localhost", true},
		{"debug 127.0.0.1", nil, true, "127.0.0.1:8000", true},
		{"debug [::1]", nil, true, "[::1]", true},
		{"debug other", nil, true, "example.com", false},
		{"debug with a list uses the list", []string{"example.com"}, true, "localhost", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := AllowedHosts(tt.hosts, tt.debug)(ok)
			r := httptest.NewRequest("GET", "/", nil)
			r.Host = tt.host
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if got := w.Code == 200; got != tt.allow {
				t.Fatalf("Host %q with %q: status %d, want allowed=%v", tt.host, tt.hosts, w.Code, tt.allow)
			}
			if !tt.allow && w.Code != 400 {
				t.Fatalf("status %d, want 400", w.Code)
			}
			if !tt.allow && tt.debug && !strings.Contains(w.Body.String(), "Invalid HTTP_HOST header") {
				t.Errorf("debug 400 does not explain: %q", w.Body)
			}
		})
	}
}

// The debug page's advice is Django's: a Host of a valid shape is named to
// be added to allowed_hosts; one no entry could match ("a.test:", an
// empty port) is said to be invalid. It advised adding "".
func TestAllowedHostsDebugAdvice(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	for host, want := range map[string]string{
		"evil.test:8000": `You may need to add "evil.test" to allowed_hosts.`,
		"a.test:":        `Invalid HTTP_HOST header: "a.test:". The domain name provided is not valid according to RFC 1034/1035.`,
		"a.test:x":       "The domain name provided is not valid",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		w := httptest.NewRecorder()
		AllowedHosts([]string{"example.com"}, true)(ok).ServeHTTP(w, r)
		if w.Code != 400 || !strings.Contains(w.Body.String(), want) || strings.Contains(w.Body.String(), `add ""`) {
			t.Errorf("Host %q: %d %q, want 400 saying %s", host, w.Code, w.Body, want)
		}
	}
}

func TestAllowedHostsInApp(t *testing.T) {
	app := fixture(t, testSettings(), &logBuffer{})
	w := newClient(t, app).do("GET", "/form/", nil, http.Header{"Host": {"evil.example"}})
	if w.Code != 400 || strings.Contains(w.Body.String(), "evil") {
		t.Fatalf("disallowed host: %d %q; want a plain 400", w.Code, w.Body)
	}
}

func TestRecover(t *testing.T) {
	for _, debug := range []bool{false, true} {
		logs := &logBuffer{}
		s := testSettings()
		s.Debug = debug
		app := fixture(t, s, logs)
		c := newClient(t, app)
		w := c.get("/panic/")
		if w.Code != 500 {
			t.Fatalf("debug=%v: panicking view gave %d, want 500", debug, w.Code)
		}
		body := w.Body.String()
		if debug {
			if !strings.Contains(body, "panic: boom &lt;b&gt;") || !strings.Contains(body, "goroutine") || strings.Contains(body, "<b>") {
				t.Errorf("debug 500 page lacks the escaped panic or the stack:\n%s", body)
			}
		} else if strings.Contains(body, "boom") || !strings.HasPrefix(body, "500 Internal Server Error") {
			t.Errorf("production 500 page shows details or is not plain: %q", body)
		}
		if l := logs.String(); !strings.Contains(l, "panic serving request") || !strings.Contains(l, "boom <b>") || !strings.Contains(l, "stack=") {
			t.Errorf("panic not logged with its stack: %s", l)
		}
		if w := c.get("/form/"); w.Code != 200 {
			t.Fatalf("the request after a panic got %d, want 200", w.Code)
		}
	}
}

func TestViewErrors(t *testing.T) {
	for _, debug := range []bool{false, true} {
		logs := &logBuffer{}
		s := testSettings()
		s.Debug = debug
		app := fixture(t, s, logs)
		c := newClient(t, app)
		w := c.get("/fail/")
		if w.Code != 500 {
			t.Fatalf("error view: %d, want 500", w.Code)
		}
		if got := strings.Contains(w.Body.String(), "unexpected EOF"); got != debug {
			t.Errorf("debug=%v: error text shown=%v: %q", debug, got, w.Body)
		}
		if !strings.Contains(logs.String(), "unexpected EOF") {
			t.Error("a view's error is not logged")
		}
		w = c.get("/missing/")
		if w.Code != 404 {
			t.Fatalf("NotFound: %d", w.Code)
		}
		if !debug && w.Body.String() != "custom 404: no such &lt;thing&gt;" {
			t.Errorf("404 should use the app's 404.html: %q", w.Body)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	app := fixture(t, testSettings(), &logBuffer{})
	c := newClient(t, app)
	for _, target := range []string{"/form/", "/no/such/page/", "/panic/"} {
		w := c.get(target)
		for k, v := range map[string]string{
			"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
			"Referrer-Policy": "same-origin", "Cross-Origin-Opener-Policy": "same-origin",
		} {
			if got := w.Header().Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", target, k, got, v)
			}
		}
	}
}

func TestMessagesShownOnce(t *testing.T) {
	app := fixture(t, testSettings(), &logBuffer{})
	c := newClient(t, app)
	tok := formToken(t, c, "/form/")
	w := c.postForm("/flash/", "csrfmiddlewaretoken="+tok, nil)
	if w.Code != 302 || w.Header().Get("Location") != "/messages/" {
		t.Fatalf("flash: %d to %q, want 302 to /messages/", w.Code, w.Header().Get("Location"))
	}
	w = c.get("/messages/")
	want := `<ul class="messages"><li class="success">Saved &lt;b&gt;</li><li class="warning">Careful</li></ul>`
	if !strings.Contains(w.Body.String(), want) {
		t.Fatalf("messages page: %q, want it to contain %q", w.Body, want)
	}
	w = c.get("/messages/")
	if strings.Contains(w.Body.String(), "messages") {
		t.Fatalf("messages shown twice: %q", w.Body)
	}
}

func TestMessagesWithoutMiddleware(t *testing.T) {
	logs := &logBuffer{}
	app := newApp(t, testSettings(), Config{Logger: newLogger(logs), Middleware: []Middleware{Sessions(testSettings())},
		URLs: []Pattern{Path("", func(w http.ResponseWriter, r *Request) error {
			r.Messages().Info("x")
			if len(r.Messages().All()) != 0 {
				t.Error("a message was kept without MessageMiddleware")
			}
			return nil
		}, "")}})
	newClient(t, app).get("/")
	if !strings.Contains(logs.String(), "message dropped") {
		t.Error("dropping a message is not logged")
	}
}

func TestLogRequests(t *testing.T) {
	logs := &logBuffer{}
	app := fixture(t, testSettings(), logs)
	newClient(t, app).get("/form/?q=1")
	l := logs.String()
	for _, want := range []string{"msg=request", "method=GET", "path=/form/", "status=200", "bytes=", "duration="} {
		if !strings.Contains(l, want) {
			t.Errorf("request log lacks %q: %s", want, l)
		}
	}
	if strings.Contains(l, "bytes=0 ") {
		t.Errorf("bytes not counted: %s", l)
	}
}

func TestRenderContext(t *testing.T) {
	s := testSettings()
	app := fixture(t, s, &logBuffer{})
	c := newClient(t, app)
	w := c.get("/detail/7/")
	body := w.Body.String()
	if w.Code != 200 || w.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("render: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	for _, want := range []string{`<a href="/detail/7/">7</a>`, `<link href="/static/polls/style.css">`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q: %s", want, body)
		}
	}
	// {{csrf_field $}} inside {{range}}: the same token twice.
	toks := tokenRE.FindAllStringSubmatch(body, -1)
	if len(toks) != 2 || toks[0][1] != toks[1][1] {
		t.Errorf("csrf_field in a range: %v", toks)
	}
	if strings.Contains(body, "DEBUG") {
		t.Error("debug context is true outside debug")
	}
	if len(toks) == 2 && !strings.Contains(body, "<i>"+toks[0][1]+"</i>") {
		t.Errorf("{{.csrf_token}} does not print the page's token: %s", body)
	}
	// A page that prints no token creates no session.
	if w := newClient(t, app).get("/messages/"); w.Header().Get("Set-Cookie") != "" {
		t.Errorf("a page without a form set a cookie: %q", w.Header().Get("Set-Cookie"))
	}
}

func TestConcurrentRequests(t *testing.T) {
	s := testSettings()
	s.Debug = true // template reloading checks run concurrently too
	app := fixture(t, s, &logBuffer{})
	paths := []string{"/form/", "/detail/3/", "/session/get/", "/panic/", "/missing/", "/nothing/", "/static/polls/style.css", "/stream/"}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(t, app)
			for i := range 100 {
				p := paths[(g+i)%len(paths)]
				w := c.get(p)
				if w.Code >= 500 && p != "/panic/" {
					select {
					case errs <- fmt.Sprintf("%s: %d", p, w.Code):
					default:
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestStream(t *testing.T) {
	app := fixture(t, testSettings(), &logBuffer{})
	w := newClient(t, app).get("/stream/")
	if w.Body.String() != "a\nb\n" || !w.Flushed || w.Header().Get("X-Accel-Buffering") != "no" {
		t.Fatalf("stream: %q flushed=%v headers=%v", w.Body, w.Flushed, w.Header())
	}
}

func TestStaticInDebug(t *testing.T) {
	s := testSettings()
	s.Debug = true
	app := fixture(t, s, &logBuffer{})
	c := newClient(t, app)
	w := c.get("/static/polls/style.css")
	if w.Code != 200 || w.Body.String() != "body{}" || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/css") {
		t.Fatalf("static in debug: %d %q %q", w.Code, w.Body, w.Header().Get("Content-Type"))
	}
	for _, target := range []string{"/static/polls/", "/static/polls", "/static/../static/polls/style.css", "/static/nope.css"} {
		if w := c.get(target); w.Code != 404 {
			t.Errorf("static %s: %d, want 404", target, w.Code)
		}
	}
	// Outside debug the app leaves /static/ to the edge.
	prod := fixture(t, testSettings(), &logBuffer{})
	if w := newClient(t, prod).get("/static/polls/style.css"); w.Code != 404 {
		t.Errorf("static outside debug: %d, want 404", w.Code)
	}
}

func TestCSRFUnresolvedIs404(t *testing.T) {
	app := fixture(t, testSettings(), &logBuffer{})
	if w := newClient(t, app).postForm("/no/such/", "a=b", nil); w.Code != 404 {
		t.Fatalf("POST to an unknown URL: %d, want 404 (not a CSRF 403)", w.Code)
	}
}

func TestHTTPSDetection(t *testing.T) {
	tests := []struct {
		name    string
		trust   bool
		target  string
		forward string
		secure  bool
	}{
		{"plain http", false, "http://example.com/session/set/", "", false},
		{"TLS", false, "https://example.com/session/set/", "", true},
		{"forwarded, untrusted", false, "http://example.com/session/set/", "https", false},
		{"forwarded, trusted", true, "http://example.com/session/set/", "https", true},
		{"forwarded http, trusted", true, "http://example.com/session/set/", "http", false},
	}
	for _, tt := range tests {
		s := testSettings()
		s.TrustForwardedProto = tt.trust
		app := fixture(t, s, &logBuffer{})
		h := http.Header{}
		if tt.forward != "" {
			h.Set("X-Forwarded-Proto", tt.forward)
		}
		w := newClient(t, app).do("GET", tt.target+"?v=1", nil, h)
		if got := strings.Contains(w.Header().Get("Set-Cookie"), "Secure"); got != tt.secure {
			t.Errorf("%s: Secure cookie = %v, want %v", tt.name, got, tt.secure)
		}
	}
}

func TestRequestContext(t *testing.T) {
	type key struct{}
	got := make(chan error, 1)
	app := newApp(t, testSettings(), Config{Middleware: []Middleware{}, URLs: []Pattern{
		Path("", func(w http.ResponseWriter, r *Request) error {
			ctx, cancel := context.WithCancel(r.Context())
			defer cancel()
			if r.Context().Value(key{}) != "outer" || FromRequest(r.Request) != r {
				t.Error("the request context lost a value")
			}
			<-ctx.Done() // the parent's cancellation reaches a child
			got <- ctx.Err()
			return nil
		}, ""),
	}})
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "outer"))
	r := httptest.NewRequest("GET", "/", nil).WithContext(parent)
	done := make(chan struct{})
	go func() {
		defer close(done)
		app.ServeHTTP(httptest.NewRecorder(), r)
	}()
	cancel()
	select {
	case err := <-got:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("child context error %v, want Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelling the request's context did not reach the view's child context")
	}
	<-done
}
