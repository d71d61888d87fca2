package reqbody

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stack-web/stack/edge/upstream"
)

// Every attempt of a Group reads the whole buffered body, from memory or
// from a file: two servers that cannot be reached, then one that answers.
// The http transport writes the body from a goroutine of its own, which is
// what a shared reader would break.
func TestEachAttemptGetsTheWholeBody(t *testing.T) {
	var mu sync.Mutex
	var got []string
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
	}))
	defer app.Close()
	dir := t.TempDir()
	for _, size := range []int{10, 100 << 10} {
		got = nil
		cfg := upstream.Default()
		cfg.Protocol = "http"
		cfg.MaxFails = 0
		cfg.Servers = []string{"unix:" + dir + "/none1.sock", "unix:" + dir + "/none2.sock", app.Listener.Addr().String()}
		u, err := upstream.New("app", cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		br := NewReader(1<<20, 64<<10, time.Second, t.TempDir())
		want := strings.Repeat("b", size)
		r := httptest.NewRequest("POST", "/", strings.NewReader(want))
		bb, err := br.Read(httptest.NewRecorder(), r)
		if err != nil {
			t.Fatal(err)
		}
		r.Body = bb
		r.RequestURI = "" // a client request, as ReverseProxy's
		r.URL.Scheme, r.URL.Host = "http", "app"
		resp, err := u.RoundTrip(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		bb.Close()
		u.Close()
		mu.Lock()
		if len(got) != 1 || got[0] != want {
			t.Errorf("size %d: the app read %d bodies, want one of %d bytes", size, len(got), size)
		}
		mu.Unlock()
	}
}
