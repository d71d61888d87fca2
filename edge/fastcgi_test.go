package edge_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stack-web/stack/appserver"
	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/fastcgi"
)

// fcgiRequest is what a fake FastCGI server received.
type fcgiRequest struct {
	flags  uint8
	params map[string]string
	stdin  []byte
}

// startFakeFastCGI runs a FastCGI server on a fresh Unix socket that reads
// each request's records and lets answer write whatever bytes it likes.
func startFakeFastCGI(t *testing.T, answer func(c net.Conn, r *fcgiRequest)) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "fcgi.sock")
	l, err := net.Listen("unix", sock)
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
				c.SetDeadline(time.Now().Add(10 * time.Second))
				r, err := readFCGIRequest(c)
				if err != nil {
					t.Errorf("fake FastCGI server: %v", err)
					return
				}
				answer(c, r)
			})
		}
	})
	return sock
}

func readFCGIRequest(c net.Conn) (*fcgiRequest, error) {
	r := &fcgiRequest{params: map[string]string{}}
	var params []byte
	for {
		var h [8]byte
		if _, err := io.ReadFull(c, h[:]); err != nil {
			return nil, err
		}
		n, pad := int(binary.BigEndian.Uint16(h[4:])), int(h[6])
		if h[0] != 1 || binary.BigEndian.Uint16(h[2:]) != 1 || (n+pad)%8 != 0 {
			return nil, io.ErrUnexpectedEOF
		}
		b := make([]byte, n+pad)
		if _, err := io.ReadFull(c, b); err != nil {
			return nil, err
		}
		b = b[:n]
		switch h[1] {
		case fastcgi.TypeBeginRequest:
			r.flags = b[2]
		case fastcgi.TypeParams:
			params = append(params, b...)
		case fastcgi.TypeStdin:
			if n == 0 {
				err := fastcgi.ParsePairs(params, func(k, v []byte) { r.params[string(k)] = string(v) })
				return r, err
			}
			r.stdin = append(r.stdin, b...)
		}
	}
}

// fcgiStdout is a well-formed response: stdout in records, then END_REQUEST.
func fcgiStdout(stdout string) []byte {
	b := fastcgi.AppendRecord(nil, fastcgi.TypeStdout, 1, []byte(stdout))
	b = fastcgi.AppendRecord(b, fastcgi.TypeStdout, 1, nil)
	return append(b, fcgiEnd(0)...)
}

func fcgiEnd(status uint8) []byte {
	return []byte{1, fastcgi.TypeEndRequest, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0, status, 0, 0, 0}
}

func fastcgiConfig(sock, root string) edge.Config {
	cfg := proxyConfig("unix:" + sock)
	up := cfg.Upstreams["app"]
	up.Protocol, up.Root = "fastcgi", root
	up.CheckScript = false // the fake server's root is not on this disk
	up.Retries = 0
	cfg.Upstreams["app"] = up
	return cfg
}

// The request reaches a FastCGI server with nginx's fastcgi_params and
// fastcgi-php.conf's split; the body arrives whole in STDIN records; the
// CGI response's Status and headers reach the client; STDERR is logged.
func TestFastCGIRequestAsNginxSendsIt(t *testing.T) {
	got := make(chan *fcgiRequest, 4)
	sock := startFakeFastCGI(t, func(c net.Conn, r *fcgiRequest) {
		got <- r
		out := fastcgi.AppendRecord(nil, fastcgi.TypeStderr, 1, []byte("PHP message: something odd\n"))
		sum := sha256.Sum256(r.stdin)
		out = append(out, fcgiStdout("Status: 201 Created\r\nX-Php: yes\r\nContent-Type: text/plain\r\n\r\n"+hex.EncodeToString(sum[:]))...)
		c.Write(out)
	})
	base, log := startEdgeLogged(t, fastcgiConfig(sock, "/srv/www/"))

	for _, size := range []int{0, 1000, 300 << 10} { // none, in memory, from a file (streamed)
		body := bytes.Repeat([]byte("abcdefghij"), size/10)
		req, _ := http.NewRequest("POST", base+"/app/index.php/a/b?x=1&y=%2F", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Add("X-Multi", "one")
		req.Header.Add("X-Multi", "two")
		req.SetBasicAuth("alice", "pw")
		resp := mustDo(t, req)
		text, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		sum := sha256.Sum256(body)
		if resp.StatusCode != 201 || resp.Header.Get("X-Php") != "yes" || string(text) != hex.EncodeToString(sum[:]) {
			t.Errorf("size %d: status %d, X-Php %q, body %q", size, resp.StatusCode, resp.Header.Get("X-Php"), text)
		}
		r := <-got
		host := strings.TrimPrefix(base, "http://")
		_, port, _ := net.SplitHostPort(host)
		want := map[string]string{
			"SCRIPT_FILENAME": "/srv/www/app/index.php", "SCRIPT_NAME": "/app/index.php",
			"PATH_INFO": "/a/b", "PATH_TRANSLATED": "/srv/www/a/b", "DOCUMENT_ROOT": "/srv/www",
			"DOCUMENT_URI": "/app/index.php/a/b", "REQUEST_URI": "/app/index.php/a/b?x=1&y=%2F",
			"QUERY_STRING": "x=1&y=%2F", "REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/octet-stream",
			"SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_SCHEME": "http", "GATEWAY_INTERFACE": "CGI/1.1",
			"REMOTE_ADDR": "127.0.0.1", "REMOTE_USER": "alice", "SERVER_ADDR": "127.0.0.1", "SERVER_PORT": port,
			"SERVER_NAME": "127.0.0.1", "REDIRECT_STATUS": "200", "HTTP_HOST": "127.0.0.1",
			"HTTP_X_MULTI": "one, two", "HTTP_X_FORWARDED_PROTO": "http",
		}
		if size > 0 {
			want["CONTENT_LENGTH"] = itoa(size)
		} else {
			want["CONTENT_LENGTH"] = ""
		}
		for k, v := range want {
			if r.params[k] != v {
				t.Errorf("size %d: %s = %q, want %q", size, k, r.params[k], v)
			}
		}
		if _, ok := r.params["HTTPS"]; ok {
			t.Errorf("HTTPS sent for a plain request")
		}
		if !bytes.Equal(r.stdin, body) || r.flags != 0 {
			t.Errorf("size %d: stdin %d bytes, flags %d", size, len(r.stdin), r.flags)
		}
	}
	log.waitFor(t, "FastCGI sent in stderr", "PHP message: something odd")

	// No split: a path without .php is the script; a directory gets index.php.
	resp := mustGet(t, base+"/dir/")
	resp.Body.Close()
	if r := <-got; r.params["SCRIPT_FILENAME"] != "/srv/www/dir/index.php" || r.params["PATH_INFO"] != "" || r.params["PATH_TRANSLATED"] != "" {
		t.Errorf("/dir/: SCRIPT_FILENAME %q PATH_INFO %q", r.params["SCRIPT_FILENAME"], r.params["PATH_INFO"])
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// A server that breaks the protocol gets 502, at once: never a hang, never
// its garbage passed on as a response.
func TestFastCGIMalformedRecordsAre502(t *testing.T) {
	head := "Status: 200\r\nContent-Type: text/plain\r\n\r\n"
	for name, out := range map[string][]byte{
		"content length past the end":   {1, fastcgi.TypeStdout, 0, 1, 0xff, 0xff, 0, 0, 'S', 't'},
		"padding past the end":          append(fastcgi.AppendRecord(nil, fastcgi.TypeStdout, 1, []byte(head))[:8+len(head)], 0),
		"header cut short":              {1, fastcgi.TypeStdout, 0},
		"version 2":                     {2, fastcgi.TypeStdout, 0, 1, 0, 0, 0, 0},
		"another request id":            fastcgi.AppendRecord(nil, fastcgi.TypeStdout, 7, []byte(head)),
		"END_REQUEST of 4 bytes":        {1, fastcgi.TypeEndRequest, 0, 1, 0, 4, 0, 0, 0, 0, 0, 0},
		"END_REQUEST only":              fcgiEnd(0),
		"overloaded":                    fcgiEnd(fastcgi.StatusOverloaded),
		"a record type not for servers": fastcgi.AppendRecord(nil, fastcgi.TypeParams, 1, []byte("x")),
		"a head over 64 KiB":            fcgiStdout("X-Big: " + strings.Repeat("b", 3000) + "\r\n" + strings.Repeat("X-More: "+strings.Repeat("m", 3000)+"\r\n", 30)),
		"a bad Status":                  fcgiStdout("Status: abc\r\n\r\n"),
		"a closed stream":               nil,
	} {
		t.Run(name, func(t *testing.T) {
			sock := startFakeFastCGI(t, func(c net.Conn, _ *fcgiRequest) { c.Write(out) })
			base, log := startEdgeLogged(t, fastcgiConfig(sock, "/srv"))
			start := time.Now()
			resp := mustGet(t, base+"/x.php")
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 502 {
				t.Errorf("status %d, want 502; body %q", resp.StatusCode, body)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v", d)
			}
			log.waitFor(t, "upstream failed", sock)
		})
	}
	t.Run("lengths past what is sent, connection kept open: read_timeout, 504", func(t *testing.T) {
		sock := startFakeFastCGI(t, func(c net.Conn, _ *fcgiRequest) {
			c.Write([]byte{1, fastcgi.TypeStdout, 0, 1, 0x10, 0, 0, 0, 'S'})
			io.Copy(io.Discard, c)
		})
		cfg := fastcgiConfig(sock, "/srv")
		u := cfg.Upstreams["app"]
		u.ReadTimeout = 300 * time.Millisecond
		cfg.Upstreams["app"] = u
		base, _ := startEdgeLogged(t, cfg)
		resp := mustGet(t, base+"/x.php")
		resp.Body.Close()
		if resp.StatusCode != 504 {
			t.Errorf("status %d, want 504", resp.StatusCode)
		}
	})
	t.Run("a body cut before END_REQUEST aborts the client", func(t *testing.T) {
		sock := startFakeFastCGI(t, func(c net.Conn, _ *fcgiRequest) {
			c.Write(fastcgi.AppendRecord(nil, fastcgi.TypeStdout, 1, []byte(head+"partial")))
		})
		base, log := startEdgeLogged(t, fastcgiConfig(sock, "/srv"))
		got, ended := rawExchange(t, base, "GET /x.php HTTP/1.1\r\nHost: a\r\n\r\n", 5*time.Second)
		if !ended {
			t.Fatalf("the edge kept the connection open: %q", got)
		}
		if strings.HasSuffix(got, "0\r\n\r\n") {
			t.Errorf("a truncated response was passed off as complete: %q", got)
		}
		log.waitFor(t, "upstream prematurely closed connection", sock)
	})
}

// The edge's FastCGI transport in front of the appserver's FastCGI server
// (net/http/fcgi): the Go app sees the request as over uwsgi.
func TestFastCGIToTheAppserversFastCGIServer(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "app.sock")
	l, err := appserver.Listen("unix:"+sock, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	s := appserver.NewService(appserver.Config{Protocol: "fastcgi"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("the handler failed")
		}
		echoHandler(w, r)
	}), quiet, appserver.Hooks{})
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != appserver.ErrServerClosed {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	base := startEdge(t, fastcgiConfig(sock, ""))

	body := bytes.Repeat([]byte("0123456789abcdef"), 20000)
	sum := sha256.Sum256(body)
	resp := mustPost(t, base+"/a%20b/c?x=1&y=%2F", bytes.NewReader(body), int64(len(body)))
	got := getSeen(t, resp)
	if got.Method != "POST" || got.Path != "/a b/c" || got.RequestURI != "/a%20b/c?x=1&y=%2F" || got.Query != "x=1&y=%2F" ||
		got.BodySHA256 != hex.EncodeToString(sum[:]) || !strings.HasPrefix(got.RemoteAddr, "127.0.0.1:") {
		t.Errorf("the app saw %+v", got)
	}
	resp = mustGet(t, base+"/panic")
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Errorf("a panicking handler: %d, want 500", resp.StatusCode)
	}
	resp = mustGet(t, base+"/still-serving")
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("after a panic: %d", resp.StatusCode)
	}
}
