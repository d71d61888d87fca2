package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// limitsApp is an HTTP upstream in the test process: /dl/NAME answers
// with X-Accel-Redirect: /protected/NAME (/dl/evil with a way out of the
// root), everything else with "ok".
func limitsApp(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if name, ok := strings.CutPrefix(r.URL.Path, "/dl/"); ok {
			if name == "evil" {
				name = "%2e%2e/%2e%2e/etc/passwd"
			}
			w.Header().Set("X-Accel-Redirect", "/protected/"+name)
			w.Header().Set("Content-Disposition", "attachment")
			w.Header()["Content-Type"] = nil
			return
		}
		io.WriteString(w, "ok")
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// Through the real binary: rate_limit 10r/s burst 5 under a load of 20
// connections for 1.5 s passes 1+5 at once and about 10 a second after,
// refuses the rest with 429 (never a reset or a 5xx), logs the client
// once rather than per request; an internal location serves the app's
// X-Accel-Redirect and 404s a direct request.
func TestEdgeLimitsRateAndAccelRedirect(t *testing.T) {
	files := t.TempDir()
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	if err := os.WriteFile(filepath.Join(files, "big.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := writeConfig(t, fmt.Sprintf(`
run_dir: run
edge:
  listen: ["127.0.0.1:0"]
  rate_limit: {rate: 10r/s, burst: 5}
  limit_conn: {max: 50}
  locations:
    - {path: /, upstream: app}
    - {path: /dl/, upstream: app, rate_limit: off}
    - {path: /protected/, root: %q, internal: true}
  upstreams:
    app: {protocol: http, servers: [%q]}
`, files, limitsApp(t)))
	p := start(t, dir, "edge")
	base := strings.TrimSuffix(p.url(), "/")
	addr := strings.TrimPrefix(base, "http://")

	begin := time.Now()
	res := load{Addr: addr, Conns: 20}.run(t, nil, 1500*time.Millisecond)
	elapsed := time.Since(begin)
	most := 6 + int(elapsed.Seconds()*10) + 1
	t.Logf("rate_limit 10r/s burst 5, 20 connections for %v: %s (at most %d may pass)", elapsed.Round(time.Millisecond), res, most)
	if res.OK < 6 || res.OK > most {
		t.Errorf("%d passed, want 6..%d", res.OK, most)
	}
	if res.Status[429] != res.Total()-res.OK || res.Status[429] == 0 {
		t.Errorf("want every other answer 429 and no failure: %s", res)
	}
	if n := strings.Count(p.Output(), "limiting requests"); n != 1 {
		t.Errorf("%d log lines about limiting one client, want 1 per client per 10s", n)
	}

	code, body := edgeDo(t, "GET", base+"/dl/big.bin", "")
	if code != 200 || body != string(data) {
		t.Errorf("X-Accel-Redirect: %d, %d bytes; want 200 and the file's %d", code, len(body), len(data))
	}
	if code, _ := edgeDo(t, "GET", base+"/protected/big.bin", ""); code != 404 {
		t.Errorf("a direct request to the internal location: %d, want 404", code)
	}
	if code, _ := edgeDo(t, "GET", base+"/dl/evil", ""); code != 404 {
		t.Errorf("a traversal through X-Accel-Redirect: %d, want 404", code)
	}
}

// stack check names the key of a bad limit.
func TestEdgeLimitsCheck(t *testing.T) {
	dir := writeConfig(t, `
edge:
  rate_limit: {rate: 10/s, burst: 5}
  limit_conn: {max: 0}
  locations:
    - {path: /, upstream: app, rate_limit: {rate: 1r/s, key: "header:X-Real-IP"}}
`)
	_, stderr, code := run(t, dir, "check")
	for _, want := range []string{"edge.rate_limit.rate", "10/s", "edge.limit_conn.max", "edge.locations[0].rate_limit.key"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("no %q in:\n%s", want, stderr)
		}
	}
	if code == 0 {
		t.Error("stack check accepted it")
	}
}

// check_script in front of Debian's PHP-FPM: an upload asked for as
// /uploads/evil.jpg/x.php (the cgi.fix_pathinfo attack) is the edge's 404,
// never reaching PHP; with check_script: false it reaches PHP-FPM, whose
// own guard (security.limit_extensions) is then all that stands between
// the upload and the PHP interpreter.
func TestEdgeFastCGICheckScriptWithPHPFPM(t *testing.T) {
	dir := t.TempDir()
	sock := fastcgiStartPHPFPM(t, dir)
	www := filepath.Join(dir, "www")
	os.MkdirAll(filepath.Join(www, "uploads"), 0o755)
	os.WriteFile(filepath.Join(www, "uploads", "evil.jpg"), []byte("<?php echo 'EXECUTED';\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "stack.yaml"), []byte(fmt.Sprintf(`
run_dir: run
edge:
  listen: ["127.0.0.1:0"]
  locations:
    - {path: /, upstream: php}
    - {path: /www/, upstream: unchecked}
  upstreams:
    php: {protocol: fastcgi, servers: ["unix:%[1]s"], root: %[2]s}
    unchecked: {protocol: fastcgi, servers: ["unix:%[1]s"], root: %[3]s, check_script: false}
appserver:
  app: hello
`, sock, www, dir)), 0o644)
	base := strings.TrimSuffix(start(t, dir, "edge").url(), "/")

	if code, _, body := get(t, base+"/server.php"); code != 200 {
		t.Errorf("/server.php: %d %.80q", code, body)
	}
	code, _, body := get(t, base+"/uploads/evil.jpg/x.php")
	if code != 404 || body != "404 Not Found\n" {
		t.Errorf("checked: %d %q, want the edge's 404", code, body)
	}
	code, _, body = get(t, base+"/www/uploads/evil.jpg/x.php")
	t.Logf("unchecked, PHP-FPM answers: %d %q", code, body)
	if code == 404 && body == "404 Not Found\n" || strings.Contains(body, "EXECUTED") {
		t.Errorf("unchecked: %d %q, want PHP-FPM's own refusal", code, body)
	}
}
