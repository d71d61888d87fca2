package stdserver

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stack-web/stack/fastcgi"
)

// A connection accepted before Shutdown, whose request the server has not
// read yet (it was in the socket when a chain reload stopped the worker),
// is answered, not closed: the close reset it, and nginx answered 502 to
// some requests of every reload.
func TestFCGIShutdownAnswersAnAcceptedConnection(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "app.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	s := NewFCGIServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "answered") }), Options{})
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for deadline := time.Now().Add(5 * time.Second); ; {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the connection was not accepted")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(ctx) }()
	time.Sleep(100 * time.Millisecond) // Shutdown has closed the listener

	req := fastcgi.AppendBeginRequest(nil, 1, fastcgi.RoleResponder, 0)
	var params []byte
	for _, kv := range [][2]string{{"REQUEST_METHOD", "GET"}, {"SERVER_PROTOCOL", "HTTP/1.1"}, {"REQUEST_URI", "/"}, {"SCRIPT_NAME", "/"}} {
		params = fastcgi.AppendPair(params, kv[0], kv[1])
	}
	req = fastcgi.AppendRecord(req, fastcgi.TypeParams, 1, params)
	req = fastcgi.AppendRecord(req, fastcgi.TypeParams, 1, nil)
	req = fastcgi.AppendRecord(req, fastcgi.TypeStdin, 1, nil)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(req); err != nil {
		t.Fatalf("writing the request: %v", err)
	}
	stdout := fastcgi.NewStdout(fastcgi.NewReader(c, 1), nil)
	out, err := io.ReadAll(stdout)
	if err != nil || !bytes.HasSuffix(out, []byte("answered")) || stdout.End == nil {
		t.Errorf("the accepted request got %q, %v (END_REQUEST %v)", out, err, stdout.End)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; err != ErrServerClosed {
		t.Errorf("Serve: %v", err)
	}
}

// A connection that sends nothing holds Shutdown a quarter second
// (FreshGrace), not until the deadline a chain reload gives it
// (shutdown_timeout), and is closed.
func TestFCGIShutdownDoesNotWaitForASilentConnection(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "app.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	s := NewFCGIServer(http.NotFoundHandler(), Options{})
	go s.Serve(l)
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	t.Logf("Shutdown with a silent connection took %v", time.Since(start).Round(time.Millisecond))
	if ctx.Err() != nil {
		t.Error("Shutdown waited for its deadline")
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("the silent connection was not closed")
	}
}
