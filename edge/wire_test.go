package edge_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/uwsgi"
)

// fakeUpstream is a uwsgi server on a temp Unix socket that reads each
// request's packet (and the body CONTENT_LENGTH announces) and then hands
// the raw connection to serve, which writes whatever it likes.
type fakeUpstream struct {
	sock string
	mu   sync.Mutex
	vars []uwsgi.Vars
}

func startFakeUpstream(t *testing.T, serve func(c net.Conn, vars uwsgi.Vars)) *fakeUpstream {
	t.Helper()
	f := &fakeUpstream{sock: filepath.Join(t.TempDir(), "fake.sock")}
	l, err := net.Listen("unix", f.sock)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				p, err := uwsgi.ReadPacket(br, 0, nil)
				if err != nil {
					return
				}
				if n, _ := strconv.Atoi(p.Vars.Value("CONTENT_LENGTH")); n > 0 {
					io.CopyN(io.Discard, br, int64(n))
				}
				f.mu.Lock()
				f.vars = append(f.vars, p.Vars)
				f.mu.Unlock()
				serve(c, p.Vars)
			})
		}
	})
	return f
}

func (f *fakeUpstream) lastVars() uwsgi.Vars {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.vars) == 0 {
		return nil
	}
	return f.vars[len(f.vars)-1]
}

// logBuffer collects an edge's log lines for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls the log until it holds every string, or fails.
func (b *logBuffer) waitFor(t *testing.T, subs ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := b.String()
		missing := ""
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				missing = sub
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("log lacks %q; log:\n%s", missing, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startEdgeLogged is startEdge with the edge's log (and, when access is
// set, its access log file) captured.
func startEdgeLogged(t *testing.T, cfg edge.Config) (base string, log *logBuffer) {
	t.Helper()
	log = &logBuffer{}
	cfg.Listen = []string{"127.0.0.1:0"}
	e, err := edge.New(cfg, t.TempDir(), slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Shutdown(ctx)
		if err := <-done; err != nil {
			t.Errorf("edge Serve: %v", err)
		}
	})
	return "http://" + e.Addrs()[0].String(), log
}

// rawExchange writes raw to the edge and reads until the edge closes the
// connection or the deadline passes; it returns all it read and whether
// the connection ended (EOF or reset) rather than timed out.
func rawExchange(t *testing.T, base, raw string, wait time.Duration) (string, bool) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	_, err = io.Copy(&got, c)
	var ne net.Error
	timedOut := err != nil && errors.As(err, &ne) && ne.Timeout()
	return got.String(), !timedOut
}

// rawResponse parses the head of a raw response.
func rawResponse(t *testing.T, raw string) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("reading response %q: %v", raw, err)
	}
	return resp
}

func uwsgiConfig(sock string) edge.Config {
	return proxyConfig("unix:" + sock)
}
