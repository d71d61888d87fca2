package edge_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/edge/upstream"
	"github.com/stack-web/stack/examples/echo"
	"github.com/stack-web/stack/uwsgi"
)

// wsEdge runs an edge with cfg and returns it with its ws:// base.
func wsEdge(t *testing.T, cfg edge.Config) (*edge.Edge, string) {
	t.Helper()
	e, url := runEdge(t, cfg)
	return e, "ws" + strings.TrimPrefix(url, "http")
}

// wsUpstreams are the two ways to a WebSocket app: the appserver over
// uwsgi, and an HTTP server (protocol: http).
func wsUpstreams(t *testing.T, h http.Handler) map[string]edge.Config {
	sock := startApp(t, h)
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	overHTTP := proxyConfig(strings.TrimPrefix(hs.URL, "http://"))
	up := overHTTP.Upstreams["app"]
	up.Protocol = "http"
	overHTTP.Upstreams = map[string]upstream.Config{"app": up}
	return map[string]edge.Config{"uwsgi": proxyConfig("unix:" + sock), "http": overHTTP}
}

// settledGoroutines returns the goroutine count once it has stopped
// wsGoroutines counts the goroutines that are not the app server's accept
// loops. Those are a pool, not a connection's: a handler that blocks (as a
// hijacked WebSocket does) lets a spare take over accepting, and up to
// GOMAXPROCS free loops stay for the next requests.
func wsGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	n := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if len(g) > 0 && !bytes.Contains(g, []byte("appserver.(*acceptPool)")) {
			n++
		}
	}
	return n
}

// changing (the edge's accept loops start asynchronously).
func settledGoroutines() int {
	n, same := wsGoroutines(), 0
	for end := time.Now().Add(2 * time.Second); same < 5 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
		if m := wsGoroutines(); m == n {
			same++
		} else {
			n, same = m, 0
		}
	}
	return n
}

// waitUntil polls cond for up to 5s and reports whether it came true.
func waitUntil(cond func() bool) bool {
	for end := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			return false
		}
	}
	return true
}

// waitFor polls cond for up to 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("still not %s after 5s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWebSocketEchoThroughEdge(t *testing.T) {
	for name, cfg := range wsUpstreams(t, echo.New()) {
		t.Run(name, func(t *testing.T) {
			logPath := filepath.Join(t.TempDir(), "access.log")
			cfg.AccessLog = logPath
			e, base := wsEdge(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			before := settledGoroutines()
			c, resp, err := websocket.Dial(ctx, base+"/ws", nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("status %d", resp.StatusCode)
			}
			c.SetReadLimit(2 << 20)
			big := make([]byte, 1<<20)
			rand.Read(big)
			for i, msg := range [][]byte{[]byte("hello"), big, []byte("after")} {
				if err := c.Write(ctx, websocket.MessageBinary, msg); err != nil {
					t.Fatalf("write %d: %v", i, err)
				}
				_, got, err := c.Read(ctx)
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("message %d: %d bytes back, err %v", i, len(got), err)
				}
			}
			if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
				t.Fatalf("close: %v", err)
			}
			waitFor(t, "closed at the edge", func() bool { return e.OpenConnections() == 0 })
			// Every goroutine of the WebSocket (the client's, the edge's
			// copies and timers, the app's) has ended.
			if !waitUntil(func() bool { return wsGoroutines() <= before }) {
				buf := make([]byte, 1<<20)
				t.Fatalf("%d goroutines, %d before:\n%s", wsGoroutines(), before, buf[:runtime.Stack(buf, true)])
			}
			waitFor(t, "logged", func() bool {
				b, _ := os.ReadFile(logPath)
				return bytes.Contains(b, []byte(`"GET /ws HTTP/1.1" 101 `))
			})
		})
	}
}

// wsDial opens a WebSocket to url, failing the test if it cannot.
func wsDial(t *testing.T, ctx context.Context, url string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func echoOnce(ctx context.Context, c *websocket.Conn, msg string) error {
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		return err
	}
	_, got, err := c.Read(ctx)
	if err == nil && string(got) != msg {
		return errors.New("echoed " + string(got))
	}
	return err
}

// An idle WebSocket is closed by the location's idle_timeout, and the
// edge counts it closed; a busy one by max_lifetime.
func TestWebSocketLimitsCloseIt(t *testing.T) {
	for name, cfg := range wsUpstreams(t, echo.New()) {
		t.Run(name+"/idle_timeout", func(t *testing.T) {
			cfg := cfg
			cfg.Locations = []edge.LocationConfig{{Path: "/", Upstream: "app", WebSocket: edge.WebSocketConfig{IdleTimeout: 300 * time.Millisecond}}}
			e, base := wsEdge(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c := wsDial(t, ctx, base+"/ws")
			if err := echoOnce(ctx, c, "hi"); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, _, err := c.Read(ctx) // nothing comes; the edge closes
			if err == nil || ctx.Err() != nil {
				t.Fatalf("read: %v (context %v)", err, ctx.Err())
			}
			t.Logf("closed %v after the last message (idle_timeout 300ms): %v", time.Since(start).Round(time.Millisecond), err)
			waitFor(t, "counted closed", func() bool { return e.OpenConnections() == 0 })
		})
		t.Run(name+"/max_lifetime", func(t *testing.T) {
			cfg := cfg
			cfg.Locations = []edge.LocationConfig{{Path: "/", Upstream: "app", WebSocket: edge.WebSocketConfig{MaxLifetime: 500 * time.Millisecond}}}
			e, base := wsEdge(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c := wsDial(t, ctx, base+"/ws")
			n := 0
			for ; ctx.Err() == nil; n++ {
				if err := echoOnce(ctx, c, "busy"); err != nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if ctx.Err() != nil {
				t.Fatal("a busy WebSocket outlived max_lifetime")
			}
			t.Logf("closed after %d messages", n)
			waitFor(t, "counted closed", func() bool { return e.OpenConnections() == 0 })
		})
	}
}

// A message over the app's limit closes the WebSocket with 1009 (the echo
// app's read limit); the edge copies the junk through without hanging and
// releases the connection. The server closing after N messages reaches the
// client as a normal close.
func TestWebSocketOversizedMessageAndServerClose(t *testing.T) {
	for name, cfg := range wsUpstreams(t, echo.New()) {
		t.Run(name, func(t *testing.T) {
			e, base := wsEdge(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c := wsDial(t, ctx, base+"/ws")
			junk := make([]byte, 2<<20)
			rand.Read(junk)
			// The write may fail once the app has closed: what matters is
			// the close status the client reads.
			c.Write(ctx, websocket.MessageBinary, junk)
			_, _, err := c.Read(ctx)
			if got := websocket.CloseStatus(err); got != websocket.StatusMessageTooBig {
				t.Errorf("close status %v (err %v), want 1009", got, err)
			}
			c2 := wsDial(t, ctx, base+"/ws?close_after=3")
			for i := range 3 {
				if err := echoOnce(ctx, c2, "m"); err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
			}
			_, _, err = c2.Read(ctx)
			if got := websocket.CloseStatus(err); got != websocket.StatusNormalClosure {
				t.Errorf("server close: status %v (err %v), want 1000", got, err)
			}
			waitFor(t, "every connection closed", func() bool { return e.OpenConnections() == 0 })
		})
	}
}

// A client that goes away without a close frame (its TCP connection
// closed) ends the WebSocket at once, upstream included: not at the idle
// timeout, and not at Shutdown.
func TestWebSocketClientVanishing(t *testing.T) {
	for name, cfg := range wsUpstreams(t, echo.New()) {
		t.Run(name, func(t *testing.T) {
			e, base := wsEdge(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c := wsDial(t, ctx, base+"/ws")
			if err := echoOnce(ctx, c, "hi"); err != nil {
				t.Fatal(err)
			}
			c.CloseNow()
			waitFor(t, "closed at the edge", func() bool { return e.OpenConnections() == 0 })
		})
	}
}

// A limit ends the whole switched request, the upstream's side included,
// even with an app that never ends its side: here the client has
// half-closed (the edge passes that on and waits for the app's end) and
// the app ignores it and stays silent. The edge closes its upstream
// connection too and the request ends (it is logged).
func TestWebSocketLimitClosesAStuckUpstream(t *testing.T) {
	probe, probed := make(chan struct{}), make(chan error, 1)
	up := startFakeUpstream(t, func(c net.Conn, _ uwsgi.Vars) {
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n") // RFC 6455's example key's
		io.Copy(io.Discard, c) // until the client's end, passed on
		<-probe
		_, err := c.Write([]byte("late"))
		probed <- err
	})
	defer close(probe)
	cfg := uwsgiConfig(up.sock)
	logPath := filepath.Join(t.TempDir(), "access.log")
	cfg.AccessLog = logPath
	cfg.Locations = []edge.LocationConfig{{Path: "/", Upstream: "app", WebSocket: edge.WebSocketConfig{IdleTimeout: 300 * time.Millisecond}}}
	e, base := wsEdge(t, cfg)
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || resp.StatusCode != 101 {
		t.Fatalf("%v %v", resp, err)
	}
	c.(*net.TCPConn).CloseWrite()
	waitFor(t, "the request ended", func() bool {
		b, _ := os.ReadFile(logPath)
		return bytes.Contains(b, []byte(`"GET /ws HTTP/1.1" 101 `))
	})
	waitFor(t, "counted closed", func() bool { return e.OpenConnections() == 0 })
	probe <- struct{}{}
	if err := <-probed; err == nil {
		t.Error("the upstream connection is still open")
	}
}

// A hostile upstream that answers 101 to a request that asked for no
// upgrade gets a 502: it must not take the client's connection over.
func TestUnaskedSwitchingProtocolsIs502(t *testing.T) {
	answers := map[string]string{
		"with upgrade headers":    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"without upgrade headers": "HTTP/1.1 101 Switching Protocols\r\n\r\n",
	}
	for name, answer := range answers {
		t.Run("http "+name, func(t *testing.T) {
			cfg := proxyConfig(rawUpstream(t, answer+"junk"))
			up := cfg.Upstreams["app"]
			up.Protocol = "http"
			cfg.Upstreams = map[string]upstream.Config{"app": up}
			base := startEdge(t, cfg)
			if code, body := rawRequest(t, base, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"); code != http.StatusBadGateway {
				t.Errorf("status %d %q, want 502", code, body)
			}
		})
		t.Run("uwsgi "+name, func(t *testing.T) {
			up := startFakeUpstream(t, func(c net.Conn, _ uwsgi.Vars) { io.WriteString(c, answer+"junk") })
			base := startEdge(t, uwsgiConfig(up.sock))
			if code, body := rawRequest(t, base, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"); code != http.StatusBadGateway {
				t.Errorf("status %d %q, want 502", code, body)
			}
		})
	}
}

// A 101 to another protocol than the one asked for is a 502 too.
func TestSwitchToAnotherProtocolIs502(t *testing.T) {
	up := startFakeUpstream(t, func(c net.Conn, _ uwsgi.Vars) {
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\njunk")
	})
	base := startEdge(t, uwsgiConfig(up.sock))
	code, body := rawRequest(t, base, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	if code != http.StatusBadGateway {
		t.Errorf("status %d %q, want 502", code, body)
	}
}

// A client asking a static location to upgrade gets the file, as any
// other request: there is nothing to switch to.
func TestUpgradeToAStaticLocationIsIgnored(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("static"), 0o644)
	cfg := proxyConfig("unix:" + filepath.Join(dir, "none.sock"))
	cfg.Locations = append(cfg.Locations, edge.LocationConfig{Path: "/static/", Root: dir})
	base := startEdge(t, cfg)
	code, body := rawRequest(t, base, "GET /static/a.txt HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	if code != http.StatusOK || body != "static" {
		t.Errorf("got %d %q, want 200 static", code, body)
	}
}

// Connection: Upgrade and Upgrade reach the app for an upgrade request
// only; an Upgrade header without Connection: upgrade is hop-by-hop noise
// and is dropped.
func TestUpgradeHeadersOnlyForUpgradeRequests(t *testing.T) {
	for name, cfg := range wsUpstreams(t, http.HandlerFunc(echoHandler)) {
		t.Run(name, func(t *testing.T) {
			base := "http://" + strings.TrimPrefix(startEdge(t, cfg), "http://")
			req, _ := http.NewRequest("GET", base+"/", nil)
			req.Header.Set("Upgrade", "websocket")
			s := getSeen(t, mustDo(t, req))
			if http.Header(s.Header).Get("Upgrade") != "" || http.Header(s.Header).Get("Connection") != "" {
				t.Errorf("plain request: the app saw Upgrade %q, Connection %q", http.Header(s.Header).Get("Upgrade"), http.Header(s.Header).Get("Connection"))
			}
			req, _ = http.NewRequest("GET", base+"/", nil)
			req.Header.Set("Connection", "keep-alive, Upgrade")
			req.Header.Set("Upgrade", "websocket")
			s = getSeen(t, mustDo(t, req))
			if http.Header(s.Header).Get("Upgrade") != "websocket" || http.Header(s.Header).Get("Connection") != "Upgrade" {
				t.Errorf("upgrade request: the app saw Upgrade %q, Connection %q", http.Header(s.Header).Get("Upgrade"), http.Header(s.Header).Get("Connection"))
			}
		})
	}
}

// Shutdown does not wait for ever for a WebSocket (net/http's would not
// even see it): it waits for its grace period, then closes it.
func TestShutdownClosesWebSocketsAfterGrace(t *testing.T) {
	cfg := wsUpstreams(t, echo.New())["uwsgi"]
	cfg.Listen = []string{"127.0.0.1:0"}
	e, err := edge.New(cfg, t.TempDir(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Serve() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := wsDial(t, ctx, "ws://"+e.Addrs()[0].String()+"/ws")
	if err := echoOnce(ctx, c, "hi"); err != nil {
		t.Fatal(err)
	}
	grace, gcancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer gcancel()
	start := time.Now()
	e.Shutdown(grace)
	<-done
	t.Logf("Shutdown returned after %v (grace 300ms)", time.Since(start).Round(time.Millisecond))
	if _, _, err := c.Read(ctx); err == nil || ctx.Err() != nil {
		t.Fatalf("the WebSocket outlived the edge: %v", err)
	}
	if n := e.OpenConnections(); n != 0 {
		t.Errorf("%d connections still counted open", n)
	}
}

// A reload leaves an open WebSocket on the configuration it started with
// (its limits included); new ones get the new limits.
func TestReloadKeepsOpenWebSocketsOnTheirLimits(t *testing.T) {
	cfg := wsUpstreams(t, echo.New())["uwsgi"]
	e, base := wsEdge(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	old := wsDial(t, ctx, base+"/ws")
	if err := echoOnce(ctx, old, "before"); err != nil {
		t.Fatal(err)
	}
	cfg.Listen = []string{"127.0.0.1:0"} // as wsEdge configured it: the socket is kept
	cfg.Locations = []edge.LocationConfig{{Path: "/", Upstream: "app", WebSocket: edge.WebSocketConfig{IdleTimeout: 200 * time.Millisecond}}}
	if err := e.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	fresh := wsDial(t, ctx, base+"/ws")
	if err := echoOnce(ctx, fresh, "new"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // past the new idle_timeout, not the old one
	if err := echoOnce(ctx, old, "after"); err != nil {
		t.Errorf("the WebSocket opened before the reload: %v", err)
	}
	if err := echoOnce(ctx, fresh, "after"); err == nil {
		t.Error("the WebSocket opened after the reload outlived its idle_timeout")
	}
}
