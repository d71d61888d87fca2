package appserver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stack-web/stack/uwsgi"
	"github.com/stack-web/stack/uwsgi/uwsgitest"
)

func TestConfigAllowForReachableTCP(t *testing.T) {
	tests := []struct {
		listen string
		allow  []string
		want   string // "" for valid
	}{
		{"0.0.0.0:3031", nil, "appserver.allow: empty, but appserver.listen 0.0.0.0:3031 is reachable from other hosts and the uwsgi protocol has no authentication"},
		{":3031", nil, "uwsgi protocol has no authentication"},
		{"10.77.0.2:3031", nil, "uwsgi protocol has no authentication"},
		{"[::]:3031", nil, "uwsgi protocol has no authentication"},
		{"0.0.0.0:3031", []string{"10.77.0.1"}, ""},
		{"0.0.0.0:3031", []string{"all"}, ""},
		{"0.0.0.0:3031", []string{"all", "10.0.0.1"}, `"all" admits every address`},
		{"127.0.0.1:3031", nil, ""},
		{"localhost:3031", nil, ""},
		{"[::1]:3031", nil, ""},
		{"unix:run/app.sock", nil, ""},
		{"unix:run/app.sock", []string{"10.0.0.1"}, "appserver.allow: applies to a TCP appserver.listen"},
		{"0.0.0.0:3031", []string{"nope"}, `appserver.allow[0]: "nope"`},
	}
	for _, tt := range tests {
		c := DefaultConfig()
		c.Listen, c.Allow = tt.listen, tt.allow
		err := c.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("listen %s allow %q: unexpected error %v", tt.listen, tt.allow, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("listen %s allow %q: error %v, want one containing %q", tt.listen, tt.allow, err, tt.want)
		}
	}
	c := DefaultConfig()
	c.Listen, c.Allow = "0.0.0.0:3031", []string{"all"}
	if p := c.AllowPrefixes(); p != nil {
		t.Errorf("allow [all]: AllowPrefixes = %v, want nil (no filter)", p)
	}
}

// TestAllowListClosesOthersBeforeReading serves on TCP 127.0.0.1 with only
// 127.0.0.2 allowed: a client from 127.0.0.2 is served, on a kept
// connection too; one from 127.0.0.1 is cut without an answer, its request
// never reaching the handler, and the refusals are logged once a second,
// not once each.
func TestAllowListClosesOthersBeforeReading(t *testing.T) {
	var calls atomic.Int64
	logs := &syncBuffer{}
	s := &Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			io.WriteString(w, "hello "+r.RemoteAddr)
		}),
		Allow:  []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")},
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	}
	l, err := Listen("127.0.0.1:0", 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	addr := l.Addr().String()
	dialFrom := func(src string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(5 * time.Second))
		return c, nil
	}

	// Allowed, two requests on one kept connection.
	c, err := dialFrom("127.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	raw := withVars(t, uwsgitest.Request("GET", "/", ""), uwsgi.VarKeepAlive, "1", "STACK_RESPONSE_FRAMING", "chunked")
	for i := range 2 {
		if _, err := c.Write(raw); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
		if err != nil {
			t.Fatalf("allowed client, request %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "hello ") {
			t.Fatalf("allowed client, request %d: %d %q", i, resp.StatusCode, body)
		}
	}

	// Refused: five clients from 127.0.0.1, each cut with no byte of answer.
	for i := range 5 {
		c, err := dialFrom("127.0.0.1")
		if err != nil { // the reset can beat connect's return
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("refused client %d: dial: %v", i, err)
			}
			continue
		}
		c.Write(uwsgitest.Request("GET", "/", "")) // may fail already: the server may have reset it
		b, err := io.ReadAll(c)
		if len(b) != 0 || (err != nil && !errors.Is(err, syscall.ECONNRESET)) {
			t.Fatalf("refused client %d: read %q, %v; want nothing and EOF or a reset", i, b, err)
		}
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("handler called %d times, want 2 (the allowed client's only)", n)
	}
	// A refusal is logged with its address; the burst in one line.
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(logs.String(), "not in appserver.allow") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	out := logs.String()
	if n := strings.Count(out, "not in appserver.allow"); n != 1 || !strings.Contains(out, "from=127.0.0.1") {
		t.Errorf("want one refusal line naming from=127.0.0.1, got %d:\n%s", n, out)
	}
	// And the allowed client still works after the refusals.
	if _, err := c.Write(raw); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.ReadResponse(br, &http.Request{Method: "GET"}); err != nil || resp.StatusCode != 200 {
		t.Fatalf("allowed client after refusals: %v", err)
	}
}
