package admin

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeChild serves a child's /status.json on a Unix socket, counting the
// requests; hang makes it answer only when the test ends.
func fakeChild(t *testing.T, hang bool) (path string, requests *atomic.Int64) {
	path = filepath.Join(t.TempDir(), "admin-appserver.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	requests = new(atomic.Int64)
	release := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if hang {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Write([]byte(`{"pid": 42, "ready": false, "not_ready": "appserver: workers not all ready", "workers": [{"id": 1, "pid": 43}]}`))
	})}
	go srv.Serve(l)
	t.Cleanup(func() {
		close(release)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return path, requests
}

// The parent's /status.json asks a child for its tiers, its workers, its
// upstreams and its readiness: found by running the binary with a
// stopped (SIGSTOP) appserver child, each question waited its own 5 s
// timeout and /status.json took 15 s (every poll of the status page
// piling up). One read answers them all, and a hung child costs one
// statusTimeout.
func TestRemoteStatusIsReadOnceForSeveralQuestions(t *testing.T) {
	path, requests := fakeChild(t, false)
	r := NewRemote("appserver", path)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			st, err := r.Status()
			if err != nil || st.PID != 42 || len(st.Workers) != 1 {
				t.Errorf("Status: %+v, %v", st, err)
			}
		})
	}
	wg.Wait()
	if err := r.Ready(); err == nil || err.Error() != "appserver: not ready: appserver: workers not all ready" {
		t.Errorf("Ready: %v, want the child's reason", err)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("the child was asked %d times for 5 questions at once, want 1", n)
	}
}

func TestRemoteStatusOfAHungChildFails(t *testing.T) {
	path, requests := fakeChild(t, true)
	r := NewRemote("appserver", path)
	for range 3 {
		if _, err := r.Status(); err == nil {
			t.Fatal("a child that never answers gave a status")
		}
		if err := r.Ready(); err == nil {
			t.Fatal("a child that never answers is ready")
		}
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("a hung child was asked %d times within %v, want 1", n, statusFresh)
	}
}
