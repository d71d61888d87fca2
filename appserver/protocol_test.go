package appserver_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stack-web/stack/appserver"
	"github.com/stack-web/stack/edge/upstream"
)

// serveProtocol runs NewService(cfg) with h on a fresh Unix socket and
// returns a RoundTripper that speaks cfg.Protocol to it.
func serveProtocol(t *testing.T, cfg appserver.Config, h http.Handler, hooks appserver.Hooks) (appserver.Service, http.RoundTripper, chan error) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "app.sock")
	l, err := appserver.Listen("unix:"+sock, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	s := appserver.NewService(cfg, h, slog.New(slog.DiscardHandler), hooks)
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s.Shutdown(ctx)
	})
	up := upstream.Default()
	up.Protocol, up.Servers, up.Retries = cfg.Protocol, []string{"unix:" + sock}, 0
	g, err := upstream.New("app", up, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, g, done
}

func get(t *testing.T, rt http.RoundTripper, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://app"+path, nil)
	req.RemoteAddr = "127.0.0.1:40000"
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

// With fastcgi and http, a request in flight at Shutdown finishes and is
// answered; Serve then returns ErrServerClosed.
func TestProtocolShutdownFinishesRequestsInFlight(t *testing.T) {
	for _, proto := range []string{"fastcgi", "http"} {
		t.Run(proto, func(t *testing.T) {
			started := make(chan struct{})
			s, rt, done := serveProtocol(t, appserver.Config{Protocol: proto}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				close(started)
				time.Sleep(300 * time.Millisecond)
				io.WriteString(w, "finished")
			}), appserver.Hooks{})
			answered := make(chan string, 1)
			go func() {
				_, body := get(t, rt, "/slow")
				answered <- body
			}()
			<-started
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := s.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			if body := <-answered; body != "finished" {
				t.Errorf("the request in flight got %q", body)
			}
			if err := <-done; err != appserver.ErrServerClosed {
				t.Errorf("Serve: %v, want ErrServerClosed", err)
			}
		})
	}
}

// Harakiri cancels the request's context and tells the worker; threads
// bounds the handlers at once; OnRequest reports each request.
func TestProtocolHarakiriThreadsAndHooks(t *testing.T) {
	for _, proto := range []string{"fastcgi", "http"} {
		t.Run(proto, func(t *testing.T) {
			var harakiri, requests, running, most atomic.Int64
			hooks := appserver.Hooks{
				OnHarakiri: func(method, uri string) { harakiri.Add(1) },
				OnRequest:  func(time.Duration, int64, bool) { requests.Add(1) },
			}
			_, rt, _ := serveProtocol(t, appserver.Config{Protocol: proto, Harakiri: 200 * time.Millisecond, Threads: 2}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := running.Add(1)
				defer running.Add(-1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				if r.URL.Path == "/stuck" {
					<-r.Context().Done() // only harakiri ends it
					http.Error(w, "cancelled", http.StatusServiceUnavailable)
					return
				}
				time.Sleep(50 * time.Millisecond)
				io.WriteString(w, "ok")
			}), hooks)
			if code, _ := get(t, rt, "/stuck"); code != http.StatusServiceUnavailable || harakiri.Load() != 1 {
				t.Errorf("stuck request: %d, harakiri %d", code, harakiri.Load())
			}
			results := make(chan int, 6)
			for range 6 {
				go func() { code, _ := get(t, rt, "/"); results <- code }()
			}
			for range 6 {
				if code := <-results; code != 200 {
					t.Errorf("status %d", code)
				}
			}
			if most.Load() > 2 {
				t.Errorf("%d handlers ran at once with threads: 2", most.Load())
			}
			if requests.Load() != 7 {
				t.Errorf("OnRequest saw %d requests, want 7", requests.Load())
			}
		})
	}
}
