package edge_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/edge/tlscert"
)

// tlsBrkRedirect sends a raw plain-HTTP request with the given Host line
// to te's plain listener and returns the status and Location.
func tlsBrkRedirect(t *testing.T, te *tlsEdge, target, host string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", te.plain)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("Host %q: %v", host, err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// A browser on http://[::1]/ sends "Host: [::1]" (no port on port 80):
// the redirect bracketed it twice, https://[[::1]]:PORT/, a URL no client
// can follow.
func TestTLSRedirectIPv6HostWithoutPort(t *testing.T) {
	cfg := uwsgiConfig(startApp(t, http.HandlerFunc(echoHandler)))
	cfg.TLSRedirect = true
	te := startTLSEdge(t, cfg)
	_, port, _ := net.SplitHostPort(te.secure)
	for host, want := range map[string]string{
		"[::1]":      "https://[::1]:" + port + "/p?q",
		"[::1]:80":   "https://[::1]:" + port + "/p?q",
		"[fe80::1]":  "https://[fe80::1]:" + port + "/p?q",
		"a.test":     "https://a.test:" + port + "/p?q",
		"a.test:80":  "https://a.test:" + port + "/p?q",
		"127.0.0.1":  "https://127.0.0.1:" + port + "/p?q",
		"127.0.0.1:": "https://127.0.0.1:" + port + "/p?q",
	} {
		if code, loc := tlsBrkRedirect(t, te, "/p?q", host); code != 308 || loc != want {
			t.Errorf("Host %q: %d Location %q, want 308 %q", host, code, loc, want)
		}
	}
}

// With virtual hosts and no default server, tls_redirect sent any Host
// to HTTPS, an attacker's name included (https://evil.example:PORT/),
// where the same request over HTTPS is refused 421: an open redirect
// through the site, and a cacheable one. A Host no server takes is now
// answered 421 on the plain port too; a configured name is redirected.
func TestTLSRedirectOnlyForAHostAServerTakes(t *testing.T) {
	cfg := edge.DefaultConfig()
	cfg.TLSRedirect = true
	cfg.Servers = []edge.ServerConfig{
		{Names: []string{"a.test"}, Locations: []edge.LocationConfig{{Path: "/", Root: siteDir(t, "A")}}},
		{Names: []string{"*.b.test"}, Locations: []edge.LocationConfig{{Path: "/", Root: siteDir(t, "B")}}},
	}
	te := startTLSEdge(t, cfg)
	_, port, _ := net.SplitHostPort(te.secure)
	for _, c := range []struct {
		target, host string
		code         int
		loc          string
	}{
		{"/x", "a.test", 308, "https://a.test:" + port + "/x"},
		{"/x", "A.TEST.", 308, "https://A.TEST.:" + port + "/x"},
		{"/x", "w.b.test:80", 308, "https://w.b.test:" + port + "/x"},
		{"/x", "evil.example", 421, ""},
		{"/x", "b.test", 421, ""},
		{"http://evil.example/x", "a.test", 421, ""},
		{"//evil.example/x", "a.test", 308, "https://a.test:" + port + "//evil.example/x"},
	} {
		if code, loc := tlsBrkRedirect(t, te, c.target, c.host); code != c.code || loc != c.loc {
			t.Errorf("GET %s Host %q: %d Location %q, want %d %q", c.target, c.host, code, loc, c.code, c.loc)
		}
	}
	// With a default server every Host is served, so every Host is
	// redirected to itself, as nginx's return 301 https://$host does.
	cfg.Servers[1].Default = true
	te = startTLSEdge(t, cfg)
	_, port, _ = net.SplitHostPort(te.secure)
	if code, loc := tlsBrkRedirect(t, te, "/x", "other.example"); code != 308 || loc != "https://other.example:"+port+"/x" {
		t.Errorf("with a default server: %d %q", code, loc)
	}
}

// Behind a TLS-terminating proxy in trusted_proxies, a request the proxy
// took over HTTPS (X-Forwarded-Proto: https) was redirected all the same:
// the client, already on HTTPS, was sent to the edge's own TLS port past
// the proxy, or round again. Only a trusted proxy's claim counts; a direct
// client's X-Forwarded-Proto is still redirected.
func TestTLSRedirectKeepsATrustedProxysHTTPSRequest(t *testing.T) {
	cfg := uwsgiConfig(startApp(t, http.HandlerFunc(echoHandler)))
	cfg.TLSRedirect = true
	te := startTLSEdge(t, cfg)
	send := func(xfp string) int {
		req, _ := http.NewRequest("GET", "http://"+te.plain+"/p", nil)
		if xfp != "" {
			req.Header.Set("X-Forwarded-Proto", xfp)
		}
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := send("https"); got != 308 {
		t.Errorf("an untrusted client's X-Forwarded-Proto: https: %d, want 308", got)
	}
	cfg.TrustedProxies = []string{"127.0.0.1"}
	te = startTLSEdge(t, cfg)
	for xfp, want := range map[string]int{"https": 200, "HTTPS, http": 200, "http": 308, "": 308, "http, https": 308} {
		if got := send(xfp); got != want {
			t.Errorf("a trusted proxy's X-Forwarded-Proto %q: %d, want %d", xfp, got, want)
		}
	}
}

// stack check (Validate) reads the internal CA under run_dir/tls when it
// is there, naming edge.tls.
func TestTLSValidateRefusesACorruptedInternalCA(t *testing.T) {
	dir := t.TempDir()
	cfg := uwsgiConfig(filepath.Join(dir, "app.sock"))
	cfg.TLS = tlscert.Config{Internal: true}
	cfg.TLSListen = []string{"127.0.0.1:0"}
	cfg.TLSDir = dir
	if err := cfg.Validate(); err != nil {
		t.Fatalf("no CA yet: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "ca.crt"), []byte("garbage\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "ca.key"), []byte("garbage\n"), 0o600)
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "edge.tls: internal: CA") {
		t.Errorf("a corrupted CA: %v", err)
	}
}

// An early 413 over HTTP/2 said Connection: close, which net/http's
// HTTP/2 server turns into a GOAWAY for the whole connection: every
// stream of a browser's one connection to the site was cut off from new
// requests (and the client had to handshake again) because one upload was
// too large. HTTP/2 ends the one stream; the connection is reused.
func TestTLSHTTP2RefusedBodyKeepsTheConnection(t *testing.T) {
	cfg := uwsgiConfig(startApp(t, http.HandlerFunc(echoHandler)))
	cfg.ClientMaxBodySize = 1 << 10
	te := startTLSEdge(t, cfg)
	c := te.client(true)
	defer c.CloseIdleConnections()
	dials := 0
	c.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials++
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	do := func(method string, body string) int {
		req, _ := http.NewRequest(method, "https://"+te.secure+"/", strings.NewReader(body))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("HTTP/%d", resp.ProtoMajor)
		}
		return resp.StatusCode
	}
	if got := do("GET", ""); got != 200 {
		t.Fatalf("GET: %d", got)
	}
	if got := do("POST", strings.Repeat("x", 4<<10)); got != 413 {
		t.Fatalf("a 4 KiB POST: %d, want 413", got)
	}
	if got := do("GET", ""); got != 200 {
		t.Fatalf("GET after the 413: %d", got)
	}
	if dials != 1 {
		t.Errorf("the requests went on %d connections, want 1 (the 413 sent GOAWAY)", dials)
	}
}

// A request with "Upgrade: h2c" was proxied as a WebSocket upgrade is: an
// upstream that accepts h2c answered 101 and the edge made the client's
// connection a raw tunnel to it, so every request sent after skipped the
// edge (its locations, limits, X-Forwarded-For, log): h2c smuggling, over
// plain HTTP and HTTP/1.1 over TLS alike. The upgrade is now dropped and
// the request served as a plain one.
func TestTLSH2CUpgradeIsNotProxied(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	heads := make(chan string, 16)
	done := make(chan struct{})
	t.Cleanup(func() { l.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				heads <- req.Header.Get("Upgrade") + "|" + req.Header.Get("Http2-Settings")
				if strings.EqualFold(req.Header.Get("Upgrade"), "h2c") {
					io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
					io.Copy(c, br) // the tunnel: an HTTP/2 server would read the client's requests here
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nplain")
			}()
		}
	}()
	cfg := proxyConfig(l.Addr().String())
	up := cfg.Upstreams["app"]
	up.Protocol = "http"
	cfg.Upstreams["app"] = up
	te := startTLSEdge(t, cfg)
	for _, upgrade := range []string{"h2c", "H2C", "websocket, h2c"} {
		for _, secure := range []bool{false, true} {
			var c net.Conn
			if secure {
				c, err = tls.Dial("tcp", te.secure, &tls.Config{RootCAs: te.pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
			} else {
				c, err = net.Dial("tcp", te.plain)
			}
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: "+upgrade+"\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("Upgrade %q (TLS %v): %v", upgrade, secure, err)
			}
			body, _ := io.ReadAll(resp.Body)
			c.Close()
			if resp.StatusCode != 200 || string(body) != "plain" {
				t.Errorf("Upgrade %q (TLS %v): %d %q, want the plain answer (no switch to h2c)", upgrade, secure, resp.StatusCode, body)
			}
			select {
			case h := <-heads:
				if h != "|" {
					t.Errorf("Upgrade %q (TLS %v): the upstream got Upgrade|HTTP2-Settings %q", upgrade, secure, h)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("Upgrade %q: the upstream got no request", upgrade)
			}
		}
	}
}

// hsts.max_age: 500ms was accepted and sent "max-age=0", which tells a
// browser to forget the site's HSTS: the opposite of what was asked.
func TestTLSValidateRefusesASubSecondHSTSMaxAge(t *testing.T) {
	cfg := uwsgiConfig(filepath.Join(t.TempDir(), "app.sock"))
	cfg.TLS = tlscert.Config{Internal: true}
	cfg.TLSListen = []string{"127.0.0.1:0"}
	cfg.TLSDir = t.TempDir()
	for age, ok := range map[time.Duration]bool{500 * time.Millisecond: false, 1500 * time.Millisecond: false, time.Second: true, 8760 * time.Hour: true, 0: true} {
		cfg.HSTS = edge.HSTSConfig{MaxAge: age}
		err := cfg.Validate()
		if ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "edge.hsts.max_age")) {
			t.Errorf("max_age %v: %v", age, err)
		}
	}
}

// An HTTP/2 :authority that net/http refuses as an HTTP/1.1 Host
// ("malformed Host header", 400) reached the app as its Host: "a/x",
// "a b", "a<b>"; so did the host of an HTTP/1.1 absolute-form target
// (GET http://a<b>/), which tls_redirect also wrote into its Location.
// Both are now refused as the header is.
func TestTLSHTTP2MalformedAuthorityIsRefused(t *testing.T) {
	te := startTLSEdge(t, uwsgiConfig(startApp(t, http.HandlerFunc(echoHandler))))
	for auth, want := range map[string]int{"localhost": 200, "localhost:8443": 200, "[::1]:8443": 200, "localhost/x": 400, "local host": 400, "localhost<b>": 400, "localhost\"": 400, "localhost{": 400, `localhost\x`: 400} {
		c, err := tls.Dial("tcp", te.secure, &tls.Config{RootCAs: te.pool, ServerName: "localhost", NextProtos: []string{"h2"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := tlsBrkH2Status(t, c, auth); got != want {
			t.Errorf(":authority %q: %d, want %d", auth, got, want)
		}
		c.Close()
	}
	// The host of an absolute-form target is the Host, over plain HTTP
	// (where tls_redirect put it in the Location) and over TLS alike.
	cfg := uwsgiConfig(startApp(t, http.HandlerFunc(echoHandler)))
	cfg.TLSRedirect = true
	te = startTLSEdge(t, cfg)
	for target, want := range map[string]int{"http://localhost/": 308, "http://a<b>/": 400, "http://a'b/x": 308, `http://a"b/`: 400} {
		if code, loc := tlsBrkRedirect(t, te, target, "localhost"); code != want {
			t.Errorf("plain GET %s: %d %q, want %d", target, code, loc, want)
		}
		c, err := tls.Dial("tcp", te.secure, &tls.Config{RootCAs: te.pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		c.Close()
		if want == 308 {
			want = 200
		}
		if resp.StatusCode != want {
			t.Errorf("GET %s over TLS: %d, want %d", target, resp.StatusCode, want)
		}
	}
}

// tlsBrkH2Status sends one HTTP/2 GET / with :authority auth on c,
// framed and HPACK-encoded by hand (literal fields, no Huffman: an
// HTTP/2 client library would refuse such an :authority itself), and
// returns the answer's status, -1 for a stream reset.
func tlsBrkH2Status(t *testing.T, c *tls.Conn, auth string) int {
	t.Helper()
	return tlsBrkH2StatusOf(t, c, auth, "/")
}

// tlsBrkH2StatusOf is tlsBrkH2Status for a GET of path; auth "" sends
// no :authority.
func tlsBrkH2StatusOf(t *testing.T, c *tls.Conn, auth, path string) int {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	frame := func(typ, flags byte, stream uint32, payload []byte) []byte {
		n := len(payload)
		return append([]byte{byte(n >> 16), byte(n >> 8), byte(n), typ, flags,
			byte(stream >> 24), byte(stream >> 16), byte(stream >> 8), byte(stream)}, payload...)
	}
	var blk []byte
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", auth}, {":path", path}} {
		if f[0] == ":authority" && auth == "" {
			continue // none sent
		}
		blk = append(blk, 0x00, byte(len(f[0]))) // literal, new name, not indexed
		blk = append(append(blk, f[0]...), byte(len(f[1])))
		blk = append(blk, f[1]...)
	}
	out := []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	out = append(out, frame(0x4, 0, 0, nil)...)   // SETTINGS
	out = append(out, frame(0x1, 0x5, 1, blk)...) // HEADERS, END_STREAM|END_HEADERS
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for {
		var h [9]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			t.Fatalf(":authority %q: %v", auth, err)
		}
		payload := make([]byte, int(h[0])<<16|int(h[1])<<8|int(h[2]))
		if _, err := io.ReadFull(br, payload); err != nil {
			t.Fatal(err)
		}
		switch typ, stream := h[3], h[8]; {
		case typ == 0x3 && stream == 1: // RST_STREAM
			return -1
		case typ == 0x1 && stream == 1 && len(payload) > 0:
			// Go's server sends :status first, from HPACK's static table
			// (index 8 is 200, 12 is 400).
			switch payload[0] {
			case 0x88:
				return 200
			case 0x8c:
				return 400
			}
			t.Fatalf(":authority %q: a status not in the static table: % x", auth, payload)
		}
	}
}

// A header line folded onto the one before (obs-fold) is refused over TLS
// as the plain-HTTP parser refuses it (400, as nginx): net/http joined it
// ("X: a" + " b" reached the app as "a b"), and a folded Content-Length
// ("Content-Length:" + " 5") framed the body by a field the tracker had
// given up on. Nothing pipelined after it is served.
func TestTLSHTTP1RefusesAFoldedHeaderLine(t *testing.T) {
	te := startTLSEdge(t, uwsgiConfig(startApp(t, http.HandlerFunc(echoHandler))))
	for name, raw := range map[string]string{
		"space":          "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
		"tab":            "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
		"Content-Length": "POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n 5\r\n\r\nhelloGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		got := te.tlsExchange(t, "http/1.1", raw)
		if !strings.HasPrefix(got, "HTTP/1.1 400 ") || strings.Contains(got, "smuggled") {
			t.Errorf("a folded %s line over TLS: got %.300q, want 400 and nothing more", name, got)
		}
	}
	te.log.waitFor(t, "a folded header line (obs-fold)")
	if got := te.tlsExchange(t, "http/1.1", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\tb\r\nConnection: close\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 200 ") {
		t.Errorf("a tab inside a value over TLS: got %.80q, want 200", got)
	}
}

// Over TLS too, a method nginx would refuse gets 400 (see
// TestBrkH1MethodNotUpperCaseIsRefused), over HTTP/1.1 and HTTP/2.
func TestTLSMethodNotUpperCaseIsRefused(t *testing.T) {
	te := startTLSEdge(t, uwsgiConfig(startApp(t, http.HandlerFunc(echoHandler))))
	if got := te.tlsExchange(t, "http/1.1", "get / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 400 ") {
		t.Errorf("a lower-case method over TLS: got %.80q, want 400", got)
	}
	if got := te.tlsExchange(t, "http/1.1", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 200 ") {
		t.Errorf("GET over TLS: got %.80q, want 200", got)
	}
	req, err := http.NewRequest("get", "https://"+te.secure+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := te.client(true).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a lower-case method over HTTP/%d: got %d, want 400 over HTTP/2", resp.ProtoMajor, resp.StatusCode)
	}
}
