package upstream

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stack-web/stack/edge/upstream/internal/unixconn"
	"github.com/stack-web/stack/uwsgi/uwsgitest"
)

// fullQueue listens on a new socket with a listen queue of 0 and fills
// it: connecting fails with EAGAIN until unfill closes the connections
// queued (l accepts them, and the next).
func fullQueue(t *testing.T) (sock string, l net.Listener, unfill func()) {
	sock = filepath.Join(t.TempDir(), "full.sock")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: sock}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), sock)
	l, err = net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var queued []*unixconn.Conn
	for {
		c, err := unixconn.Dial(sock)
		if errors.Is(err, syscall.EAGAIN) {
			break
		}
		if err != nil || len(queued) > 64 {
			t.Fatalf("filling a listen queue of 0: %d connections, then %v", len(queued), err)
		}
		queued = append(queued, c)
	}
	var once sync.Once
	unfill = func() {
		once.Do(func() {
			for _, c := range queued {
				c.Close()
			}
		})
	}
	t.Cleanup(unfill)
	return sock, l, unfill
}

func groupFor(t *testing.T, sock string, readTimeout time.Duration) *Group {
	t.Helper()
	cfg := Default()
	cfg.Servers = []string{"unix:" + sock}
	cfg.ConnectTimeout = 100 * time.Millisecond
	cfg.ReadTimeout = readTimeout
	cfg.RetryTimeout = 10 * time.Millisecond
	g, err := New("app", cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// exchangeStatus sends GET path through g and returns the status owed to
// the client, and the body.
func exchangeStatus(ctx context.Context, g *Group, path string) (int, string, http.Header) {
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://app"+path, nil)
	req.RequestURI = path
	resp, err := g.RoundTrip(req)
	if err != nil {
		return Status(err), err.Error(), nil
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return -1, err.Error(), resp.Header
	}
	return resp.StatusCode, string(b), resp.Header
}

// What a server that cannot be reached costs the client, as nginx answers:
// a socket that is missing or has no listener is 502, at once; one whose
// listen queue stays full is 503 after connect_timeout's wait (the server
// is busy, not broken); one that frees its queue meanwhile answers.
func TestUnreachableUnixServers(t *testing.T) {
	ctx := context.Background()
	missing := filepath.Join(t.TempDir(), "missing.sock")
	if code, msg, _ := exchangeStatus(ctx, groupFor(t, missing, time.Second), "/"); code != 502 || !strings.Contains(msg, "no such file") {
		t.Errorf("missing socket: %d %q, want 502 naming the missing file", code, msg)
	}

	refusing := filepath.Join(t.TempDir(), "refusing.sock")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: refusing}); err != nil { // bound, never listening
		t.Fatal(err)
	}
	if code, msg, _ := exchangeStatus(ctx, groupFor(t, refusing, time.Second), "/"); code != 502 || !strings.Contains(msg, "connection refused") {
		t.Errorf("socket with no listener: %d %q, want 502, connection refused", code, msg)
	}

	full, _, _ := fullQueue(t)
	if code, msg, _ := exchangeStatus(ctx, groupFor(t, full, time.Second), "/"); code != 503 || !strings.Contains(msg, "resource temporarily unavailable") {
		t.Errorf("full listen queue: %d %q, want 503 (busy)", code, msg)
	}

	// A queue that frees within the wait: the request goes through.
	sock, l, unfill := fullQueue(t)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		time.Sleep(30 * time.Millisecond)
		unfill()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if uwsgitest.ReadPacket(c) {
				io.WriteString(c, uwsgitest.Hello)
			}
			c.Close()
		}
	})
	defer l.Close()
	g := groupFor(t, sock, time.Second)
	g.cfg.ConnectTimeout = 5 * time.Second
	if code, body, _ := exchangeStatus(ctx, g, "/"); code != 200 || body != "<h1>Hello, web!</h1>" {
		t.Errorf("a queue that frees within connect_timeout: %d %q, want the answer", code, body)
	}
}
