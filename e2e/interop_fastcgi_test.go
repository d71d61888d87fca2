package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The PHP scripts the PHP-FPM interop test serves.
var fastcgiPHPScripts = map[string]string{
	// server.php answers with $_SERVER's strings as PHP sees them, and the
	// body's length and SHA-256 as PHP reads it.
	"server.php": `<?php
$in = file_get_contents('php://input');
$out = array();
foreach ($_SERVER as $k => $v) { if (is_string($v)) { $out[$k] = $v; } }
$out['body_length'] = (string) strlen($in);
$out['body_sha256'] = hash('sha256', $in);
$out['get_x'] = isset($_GET['x']) ? $_GET['x'] : '';
header('Content-Type: application/json');
echo json_encode($out);
`,
	"status.php": `<?php
header('X-From-Php: yes');
header('Cache-Control: no-store');
http_response_code(404);
echo "not here\n";
`,
	"big.php": `<?php
header('Content-Type: application/octet-stream');
echo str_repeat("0123456789abcdef", 65536);
`,
	// A fatal error before any output (PHP has sent nothing yet, so it
	// can still answer 500).
	"fatal.php": `<?php
stack_undefined_function_for_the_test();
`,
}

// fastcgiStartPHPFPM runs Debian's php-fpm8.2 in the foreground on a Unix
// socket in dir, with its own pool configuration and no php.ini, serving
// the scripts under dir/www. It returns the socket's path.
func fastcgiStartPHPFPM(t *testing.T, dir string) string {
	t.Helper()
	fpm := fastcgiPHPFPM(t)
	www := filepath.Join(dir, "www")
	os.MkdirAll(www, 0o755)
	for name, src := range fastcgiPHPScripts {
		os.WriteFile(filepath.Join(www, name), []byte(src), 0o644)
	}
	sock := filepath.Join(dir, "php.sock")
	conf := fmt.Sprintf(`[global]
pid = %[1]s/php-fpm.pid
error_log = %[1]s/php-fpm-error.log
daemonize = no

[test]
listen = %[2]s
listen.mode = 0666
pm = static
pm.max_children = 2
; a fatal error answers 500 (PHP does only with display_errors off) and
; its message goes to FastCGI's stderr (fastcgi.logging, on by default)
php_admin_value[display_errors] = Off
php_admin_flag[log_errors] = On
`, dir, sock)
	os.WriteFile(filepath.Join(dir, "php-fpm.conf"), []byte(conf), 0o644)
	args := []string{"-n", "-y", filepath.Join(dir, "php-fpm.conf"), "-F"}
	if os.Geteuid() == 0 {
		args = append(args, "-R") // php-fpm refuses root without it
	}
	daemon(t, dir, fpm, args...)
	waitFile(t, sock)
	return sock
}

// fastcgiPHPFPM finds Debian's php-fpm: php-fpm8.2 on Debian 12, named
// for its PHP version (the package php-fpm depends on the current one).
func fastcgiPHPFPM(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"php-fpm8.2", "php-fpm"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if m, _ := filepath.Glob("/usr/sbin/php-fpm*"); len(m) > 0 {
		return m[len(m)-1]
	}
	return need(t, "php-fpm8.2") // fails, naming the test command that installs it
}

// Issue 9 point 1: `stack edge` in front of Debian's PHP-FPM, as nginx's
// fastcgi_pass with the stock fastcgi_params.
func TestStackEdgeInFrontOfPHPFPM(t *testing.T) {
	dir := t.TempDir()
	sock := fastcgiStartPHPFPM(t, dir)
	os.WriteFile(filepath.Join(dir, "stack.yaml"), []byte(fmt.Sprintf(`
run_dir: run
edge:
  listen: ["127.0.0.1:0"]
  client_max_body_size: 4MiB
  locations:
    - {path: /, upstream: php}
  upstreams:
    php: {protocol: fastcgi, servers: ["unix:%s"], root: %s}
appserver:
  app: hello
`, sock, filepath.Join(dir, "www"))), 0o644)
	edge := start(t, dir, "edge")
	base := strings.TrimSuffix(edge.url(), "/")
	www := filepath.Join(dir, "www")

	t.Run("$_SERVER as PHP sees it, and a POST body's SHA-256", func(t *testing.T) {
		body := strings.Repeat("0123456789abcdef", 20000) // 320 KB: past the edge's memory buffer, streamed
		sum := sha256.Sum256([]byte(body))
		req, _ := http.NewRequest("POST", base+"/server.php/extra/path?x=1&y=%2F", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Add("X-Multi", "one")
		req.Header.Add("X-Multi", "two")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, b)
		}
		var env map[string]string
		if err := json.Unmarshal(b, &env); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		_, port, _ := strings.Cut(strings.TrimPrefix(base, "http://"), ":")
		want := map[string]string{
			"SCRIPT_FILENAME": www + "/server.php", "SCRIPT_NAME": "/server.php", "PHP_SELF": "/server.php/extra/path",
			"PATH_INFO": "/extra/path", "PATH_TRANSLATED": www + "/extra/path", "DOCUMENT_ROOT": www,
			"DOCUMENT_URI": "/server.php/extra/path", "REQUEST_URI": "/server.php/extra/path?x=1&y=%2F",
			"QUERY_STRING": "x=1&y=%2F", "REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/octet-stream",
			"CONTENT_LENGTH": fmt.Sprint(len(body)), "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_SCHEME": "http",
			"GATEWAY_INTERFACE": "CGI/1.1", "REMOTE_ADDR": "127.0.0.1", "SERVER_ADDR": "127.0.0.1", "SERVER_PORT": port,
			"SERVER_NAME": "127.0.0.1", "REDIRECT_STATUS": "200", "HTTP_HOST": "127.0.0.1", "HTTP_X_MULTI": "one, two",
			"HTTP_X_FORWARDED_FOR": "127.0.0.1", "HTTP_X_FORWARDED_PROTO": "http",
			"body_length": fmt.Sprint(len(body)), "body_sha256": hex.EncodeToString(sum[:]), "get_x": "1",
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("$_SERVER[%s] = %q, want %q", k, env[k], v)
			}
		}
		if env["REMOTE_PORT"] == "" {
			t.Error("no REMOTE_PORT")
		}
	})

	t.Run("header() and http_response_code(404)", func(t *testing.T) {
		code, h, body := get(t, base+"/status.php")
		if code != 404 || h.Get("X-From-Php") != "yes" || h.Get("Cache-Control") != "no-store" || body != "not here\n" {
			t.Errorf("%d %v %q", code, h, body)
		}
	})

	t.Run("1 MiB response", func(t *testing.T) {
		code, _, body := get(t, base+"/big.php")
		want := strings.Repeat("0123456789abcdef", 65536)
		if code != 200 || body != want {
			t.Errorf("%d, %d bytes (want %d, equal %v)", code, len(body), len(want), body == want)
		}
	})

	t.Run("a missing script is 404 (the edge's, check_script)", func(t *testing.T) {
		code, _, _ := get(t, base+"/absent.php")
		if code != 404 {
			t.Errorf("status %d, want 404", code)
		}
	})

	t.Run("a fatal error is 500 with the stderr in the edge's log", func(t *testing.T) {
		code, _, _ := get(t, base+"/fatal.php")
		if code != 500 {
			t.Errorf("status %d, want 500", code)
		}
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(edge.Output(), "stack_undefined_function_for_the_test") {
			if time.Now().After(deadline) {
				t.Fatalf("the PHP error is not in the edge's log:\n%s", edge.Output())
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !strings.Contains(edge.Output(), "FastCGI sent in stderr") {
			t.Errorf("the edge's log does not say where the message came from:\n%s", edge.Output())
		}
	})
}
