package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Issue 9 point 1: Debian's nginx, fastcgi_pass with the stock
// fastcgi_params, in front of `stack appserver --protocol fastcgi`, passes
// the checks the uwsgi interop test makes (nginxInFrontOfStackAppserver).
func TestNginxFastCGIInFrontOfStackAppserver(t *testing.T) { fastcgiNginxInFront(t, 0) }

// With worker processes, on the one inherited socket.
func TestNginxFastCGIInFrontOfStackAppserverWorkers(t *testing.T) { fastcgiNginxInFront(t, 2) }

func fastcgiNginxInFront(t *testing.T, processes int) {
	nginx := need(t, "nginx")
	dir := writeConfig(t, fmt.Sprintf(`
run_dir: run
appserver:
  listen: unix:run/app.sock
  socket_mode: "0666"
  app: echo
  processes: %d
`, processes))
	app := start(t, dir, "appserver", "--protocol", "fastcgi")
	sock := filepath.Join(dir, "run", "app.sock")
	waitFile(t, sock)

	port := freePort(t)
	os.MkdirAll(filepath.Join(dir, "nginx"), 0o755)
	conf := fmt.Sprintf(`
daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log info;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[1]s/nginx/body;
    uwsgi_temp_path %[1]s/nginx/uwsgi;
    proxy_temp_path %[1]s/nginx/proxy;
    fastcgi_temp_path %[1]s/nginx/fastcgi;
    scgi_temp_path %[1]s/nginx/scgi;
    server {
        listen 127.0.0.1:%[2]d;
        client_max_body_size 4m;
        location / {
            include /etc/nginx/fastcgi_params;
            fastcgi_pass unix:%[3]s;
        }
    }
}
`, dir, port, sock)
	os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644)
	daemon(t, dir, nginx, "-p", dir+"/", "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "nginx-error.log"))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitHTTP(t, base+"/")
	if !strings.Contains(app.Output(), "on fastcgi unix:") {
		t.Errorf("the appserver does not say it serves FastCGI:\n%s", app.Output())
	}

	t.Run("method, escaped path, query, repeated headers", func(t *testing.T) {
		req, _ := http.NewRequest("DELETE", base+"/a%20b/%E4%B8%96?x=1&y=%2F&x=2", nil)
		req.Header.Add("X-Multi", "one")
		req.Header.Add("X-Multi", "two")
		req.Header.Set("User-Agent", "interop")
		e := doEcho(t, req)
		if e.Method != "DELETE" || e.Path != "/a b/世" || e.RawPath != "/a%20b/%E4%B8%96" || e.Query != "x=1&y=%2F&x=2" {
			t.Errorf("request line as seen: %+v", e)
		}
		if got := strings.Join(e.Headers["X-Multi"], ", "); got != "one, two" {
			t.Errorf("repeated header = %q, want one, two", e.Headers["X-Multi"])
		}
		if got := strings.Join(e.Headers["User-Agent"], "|"); got != "interop" {
			t.Errorf("User-Agent %q", got)
		}
		if !strings.HasPrefix(e.Host, "127.0.0.1") {
			t.Errorf("host %q", e.Host)
		}
		if e.Scheme != "http" || !strings.HasPrefix(e.RemoteAddr, "127.0.0.1:") {
			t.Errorf("scheme %q remote %q", e.Scheme, e.RemoteAddr)
		}
	})

	t.Run("1 MiB body", func(t *testing.T) {
		body := strings.Repeat("0123456789abcdef", 65536)
		sum := sha256.Sum256([]byte(body))
		req, _ := http.NewRequest("POST", base+"/upload", strings.NewReader(body))
		e := doEcho(t, req)
		if e.BodyLength != int64(len(body)) || e.BodySHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("body %d bytes sha %s, want %d %x", e.BodyLength, e.BodySHA256, len(body), sum)
		}
	})

	t.Run("chunked body reaches the app with its length", func(t *testing.T) {
		body := strings.Repeat("z", 100000)
		req, _ := http.NewRequest("PUT", base+"/chunked", io.MultiReader(strings.NewReader(body)))
		req.ContentLength = -1
		e := doEcho(t, req)
		if e.BodyLength != int64(len(body)) {
			t.Errorf("body %d bytes, want %d", e.BodyLength, len(body))
		}
	})

	t.Run("HEAD", func(t *testing.T) {
		resp, err := http.Head(base + "/head")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(b) != 0 {
			t.Errorf("HEAD: %d, %d body bytes", resp.StatusCode, len(b))
		}
	})

	t.Run("status codes pass through", func(t *testing.T) {
		for _, code := range []int{201, 404, 418, 503} {
			resp, err := http.Get(fmt.Sprintf("%s/status/%d", base, code))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != code {
				t.Errorf("/status/%d → %d", code, resp.StatusCode)
			}
		}
	})

	t.Run("stream arrives line by line", func(t *testing.T) {
		checkStream(t, base+"/stream/5?interval=0.2", 5, 200*time.Millisecond)
	})

	if b, _ := os.ReadFile(filepath.Join(dir, "nginx-error.log")); strings.Contains(string(b), "upstream prematurely closed") || strings.Contains(string(b), "[error]") {
		t.Errorf("nginx logged errors:\n%s", b)
	}
}

// `stack up` with appserver.protocol: fastcgi: the default upstream
// follows the app server's protocol, with worker processes.
func TestUpWithFastCGIAppserver(t *testing.T) {
	dir := writeConfig(t, `
run_dir: run
edge:
  listen: ["127.0.0.1:0"]
appserver:
  app: echo
  protocol: fastcgi
  processes: 2
`)
	p := start(t, dir, "up")
	base := strings.TrimSuffix(p.url(), "/")
	if !strings.Contains(p.Output(), "(edge → fastcgi unix:") {
		t.Errorf("announce line: %s", p.Output())
	}
	req, _ := http.NewRequest("POST", base+"/x?y=1", strings.NewReader("hello"))
	e := doEcho(t, req)
	sum := sha256.Sum256([]byte("hello"))
	if e.Path != "/x" || e.Query != "y=1" || e.BodySHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("%+v", e)
	}
}
