package framework

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
)

const testKey = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"

// testSettings are production-like settings for tests.
func testSettings() Settings {
	return Settings{SecretKey: testKey, AllowedHosts: []string{"example.com", "localhost"}}
}

// mapFS builds an in-memory folder from name → content pairs.
func mapFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for name, text := range files {
		m[name] = &fstest.MapFile{Data: []byte(text)}
	}
	return m
}

// echoView writes its name and its typed parameters: "name a=int(5) b=string(x)".
func echoView(name string) View {
	return func(w http.ResponseWriter, r *Request) error {
		var b strings.Builder
		b.WriteString(name)
		for _, p := range r.Params() {
			fmt.Fprintf(&b, " %s=%T(%v)", p.Name, p.Value(), p.Value())
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
}

// newApp builds an App or fails the test.
func newApp(t testing.TB, s Settings, c Config) *App {
	t.Helper()
	a, err := New(s, c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

// client is a minimal browser: it keeps cookies across requests.
type client struct {
	t       testing.TB
	h       http.Handler
	cookies map[string]*http.Cookie
}

func newClient(t testing.TB, h http.Handler) *client {
	return &client{t: t, h: h, cookies: map[string]*http.Cookie{}}
}

// do sends one request with the client's cookies and records the response's.
func (c *client) do(method, target string, body io.Reader, header http.Header) *httptest.ResponseRecorder {
	c.t.Helper()
	r := httptest.NewRequest(method, target, body)
	for k, vs := range header {
		if k == "Host" {
			r.Host = vs[0]
			continue
		}
		r.Header[k] = vs
	}
	for _, ck := range c.cookies {
		r.AddCookie(ck)
	}
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, r)
	for _, ck := range w.Result().Cookies() {
		if ck.MaxAge < 0 {
			delete(c.cookies, ck.Name)
			continue
		}
		c.cookies[ck.Name] = ck
	}
	return w
}

func (c *client) get(target string) *httptest.ResponseRecorder {
	c.t.Helper()
	return c.do(http.MethodGet, target, nil, nil)
}

// postForm posts a urlencoded form.
func (c *client) postForm(target, form string, header http.Header) *httptest.ResponseRecorder {
	c.t.Helper()
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	for k, vs := range header {
		h[k] = vs
	}
	return c.do(http.MethodPost, target, strings.NewReader(form), h)
}

// logBuffer collects log output safely across goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLogger(buf *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
