package edge_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/stack-web/stack/edge/upstream"
	"github.com/stack-web/stack/examples/echo"
	"github.com/stack-web/stack/uwsgi"
)

// Upgrades the edge must not pass on, whatever the app would do with
// them: h2c (through a proxy that passes it, the client speaks HTTP/2
// straight to the app, past every location and limit of the edge: h2c
// smuggling), and any Upgrade on HTTP/1.0, which RFC 9110 §7.8 says a
// server must ignore. They are served as plain requests.
func TestBrkWSRefusedUpgradesArePlainRequests(t *testing.T) {
	cases := map[string]string{
		"h2c": "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n" +
			"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
		"h2c among others": "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: foo/1, H2C\r\n\r\n",
		"HTTP/2.0":         "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: HTTP/2.0\r\n\r\n",
		"websocket on HTTP/1.0": "GET / HTTP/1.0\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
	}
	for proto, cfg := range wsUpstreams(t, http.HandlerFunc(echoHandler)) {
		base := startEdge(t, cfg)
		for name, raw := range cases {
			t.Run(proto+" "+name, func(t *testing.T) {
				code, body := rawRequest(t, base, raw)
				if code != http.StatusOK {
					t.Fatalf("status %d %q, want 200 from the app", code, body)
				}
				var s seen
				if err := json.Unmarshal([]byte(body), &s); err != nil {
					t.Fatalf("%v: %q", err, body)
				}
				h := http.Header(s.Header)
				if h.Get("Upgrade") != "" || h.Get("Connection") != "" || h.Get("Http2-Settings") != "" {
					t.Errorf("the app saw Upgrade %q, Connection %q, HTTP2-Settings %q", h.Get("Upgrade"), h.Get("Connection"), h.Get("Http2-Settings"))
				}
			})
		}
	}
}

// A frame the client sends with its handshake, before the 101 (a client
// that does not wait, or any upgraded protocol that speaks first), is
// read by the edge's server with the request head: it must still reach
// the app (Go's ReverseProxy copies from the bare connection and would
// drop what the server had buffered).
func TestBrkWSEarlyFrameReachesTheApp(t *testing.T) {
	for proto, cfg := range wsUpstreams(t, echo.New()) {
		t.Run(proto, func(t *testing.T) {
			base := startEdge(t, cfg)
			c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			// A masked text frame "early" (mask 0: the payload as is).
			frame := []byte{0x81, 0x80 | 5, 0, 0, 0, 0, 'e', 'a', 'r', 'l', 'y'}
			io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
				"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"+string(frame))
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("handshake: %v %v", resp, err)
			}
			got := make([]byte, 7)
			if _, err := io.ReadFull(br, got); err != nil {
				t.Fatalf("no echo of the early frame: %v", err)
			}
			if want := []byte{0x81, 5, 'e', 'a', 'r', 'l', 'y'}; !bytes.Equal(got, want) {
				t.Errorf("echo %q, want %q", got, want)
			}
		})
	}
}

// An upstream that answers 101 with another protocol than asked gets a
// 502, and its connection is closed at once: ReverseProxy refuses such a
// switch without closing the body, which is the connection itself (an
// upstream socket held until the garbage collector found it, and the
// server counted busy by least_conn for ever).
func TestBrkWSRefusedSwitchClosesTheUpstream(t *testing.T) {
	const answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: other\r\nConnection: Upgrade\r\n\r\n"
	const ask = "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
	// serve answers the switch, then reports whether the edge closed the
	// connection within 3s.
	closed := make(chan bool, 1)
	serve := func(c net.Conn) {
		io.WriteString(c, answer)
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, err := io.Copy(io.Discard, c)
		closed <- err == nil
	}
	t.Run("uwsgi", func(t *testing.T) {
		up := startFakeUpstream(t, func(c net.Conn, _ uwsgi.Vars) { serve(c) })
		base := startEdge(t, uwsgiConfig(up.sock))
		if code, body := rawRequest(t, base, ask); code != http.StatusBadGateway {
			t.Errorf("status %d %q, want 502", code, body)
		}
		if !<-closed {
			t.Error("the upstream connection is still open 3s after the refused switch")
		}
	})
	t.Run("http", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			http.ReadRequest(bufio.NewReader(c))
			serve(c)
		}()
		cfg := proxyConfig(l.Addr().String())
		up := cfg.Upstreams["app"]
		up.Protocol = "http"
		cfg.Upstreams = map[string]upstream.Config{"app": up}
		base := startEdge(t, cfg)
		if code, body := rawRequest(t, base, ask); code != http.StatusBadGateway {
			t.Errorf("status %d %q, want 502", code, body)
		}
		if !<-closed {
			t.Error("the upstream connection is still open 3s after the refused switch")
		}
	})
}

// An app that answers 101 without taking the connection over (a handler
// bug, or a Hijack that failed) must not leave a kept uwsgi connection
// behind the tunnel the edge opens for the 101: the client could then
// write uwsgi packets of its own straight to the appserver, with any
// REMOTE_ADDR, HTTPS or path, past every rule of the edge.
func TestBrkWSUnhijacked101IsNoTunnelToTheAppserver(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			w.Header().Set("Connection", "Upgrade")
			w.Header().Set("Upgrade", "websocket")
			w.WriteHeader(http.StatusSwitchingProtocols)
			return // no Hijack
		}
		io.WriteString(w, "reached "+r.URL.Path+" as "+r.RemoteAddr)
	})
	base := startEdge(t, proxyConfig("unix:"+startApp(t, h)))
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Logf("status %d: no tunnel", resp.StatusCode)
		return // refused: no tunnel at all
	}
	var e uwsgi.Encoder
	e.Reset(nil, uwsgi.ModifierWSGI, 0)
	for _, kv := range [][2]string{{"REQUEST_METHOD", "GET"}, {"REQUEST_URI", "/internal/secret"}, {"PATH_INFO", "/internal/secret"},
		{"SERVER_PROTOCOL", "HTTP/1.1"}, {"REMOTE_ADDR", "10.6.6.6"}, {"REMOTE_PORT", "1"}, {"HTTP_HOST", "a"}} {
		e.Add(kv[0], kv[1])
	}
	pkt, err := e.Bytes(4096)
	if err != nil {
		t.Fatal(err)
	}
	c.Write(pkt)
	rest, _ := io.ReadAll(br)
	t.Logf("status %d, then %q", resp.StatusCode, rest)
	if bytes.Contains(rest, []byte("reached")) {
		t.Errorf("a uwsgi packet written through the tunnel was served by the app:\n%s", rest)
	}
}

// Over http, the same app bug is worse: net/http keeps the connection of
// a 101 that was not hijacked, so a tunnel would hand the client the
// app's HTTP parser (any path, any X-Forwarded-For). A 101 to a WebSocket
// request without the Sec-WebSocket-Accept its key calls for is no
// handshake, and gets 502.
func TestBrkWSUnhijacked101OverHTTPIsRefused(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			w.Header().Set("Connection", "Upgrade")
			w.Header().Set("Upgrade", "websocket")
			w.WriteHeader(http.StatusSwitchingProtocols)
			return // no Hijack
		}
		io.WriteString(w, "reached "+r.URL.Path+" as "+r.Header.Get("X-Forwarded-For"))
	})
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	cfg := proxyConfig(strings.TrimPrefix(hs.URL, "http://"))
	up := cfg.Upstreams["app"]
	up.Protocol = "http"
	cfg.Upstreams = map[string]upstream.Config{"app": up}
	base := startEdge(t, cfg)
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		io.WriteString(c, "GET /internal/secret HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.6.6.6\r\n\r\n")
		rest, _ := io.ReadAll(br)
		t.Fatalf("the edge switched to a tunnel into the app's HTTP parser; through it: %q", rest)
	}
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, want 502", resp.StatusCode)
	}
}

// An app that closes with 1009 while the client is still sending the
// rest of an oversized message: the edge's write to the app fails, and
// ReverseProxy would end both directions at once, before the app's close
// frame was copied to the client (who then saw a reset instead of 1009,
// in about one try of five). Repeated, so that the race shows.
func TestBrkWSCloseFrameSurvivesAFailedWrite(t *testing.T) {
	for name, cfg := range wsUpstreams(t, echo.New()) {
		t.Run(name, func(t *testing.T) {
			_, base := wsEdge(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			junk := make([]byte, 2<<20)
			for i := range 15 {
				c := wsDial(t, ctx, base+"/ws")
				c.Write(ctx, websocket.MessageBinary, junk)
				_, _, err := c.Read(ctx)
				if got := websocket.CloseStatus(err); got != websocket.StatusMessageTooBig {
					t.Fatalf("try %d: close status %v (err %v), want 1009", i, got, err)
				}
				c.CloseNow()
			}
		})
	}
}
