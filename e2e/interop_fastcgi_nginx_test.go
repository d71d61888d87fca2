package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

	base := nginxFront(t, nginx, dir, `
        client_max_body_size 4m;
        location / {
            include /etc/nginx/fastcgi_params;
            fastcgi_pass unix:`+sock+`;
        }`)
	if !strings.Contains(app.Output(), "on fastcgi unix:") {
		t.Errorf("the appserver does not say it serves FastCGI:\n%s", app.Output())
	}

	checkEchoBehindNginx(t, base, false)

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
