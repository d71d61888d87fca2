package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// brkFcgiNginx runs Debian's nginx with fastcgi_pass to the Unix socket
// sock and returns its host:port.
func brkFcgiNginx(t *testing.T, dir, sock string) string {
	t.Helper()
	nginx := need(t, "nginx")
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
        location / {
            include /etc/nginx/fastcgi_params;
            fastcgi_pass unix:%[3]s;
        }
    }
}
`, dir, port, sock)
	os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644)
	daemon(t, dir, nginx, "-p", dir+"/", "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "nginx-error.log"))
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitHTTP(t, "http://"+addr+"/")
	return addr
}

// A chain reload (SIGHUP) of `stack appserver --protocol fastcgi` behind
// nginx loses no request: each old worker answers every connection it
// accepted before it exits. It reset those whose request it had read but
// not yet handled (nginx: "recv() failed (104: Connection reset by
// peer)", 502), about 2 per reload under 16 connections.
func TestBrkFcgiChainReloadUnderLoadLosesNothing(t *testing.T) {
	dir := writeConfig(t, `
run_dir: run
admin:
  listen: ""
appserver:
  listen: unix:run/app.sock
  socket_mode: "0666"
  app: echo
  processes: 2
`)
	app := start(t, dir, "appserver", "--protocol", "fastcgi")
	sock := filepath.Join(dir, "run", "app.sock")
	waitFile(t, sock)
	addr := brkFcgiNginx(t, dir, sock)

	stop := make(chan struct{})
	results := make(chan *loadResult, 1)
	go func() { results <- load{Addr: addr, Conns: 16, Timeout: 5 * time.Second}.run(t, stop, 10*time.Second) }()
	const reloads = 3
	for i := 1; i <= reloads; i++ {
		time.Sleep(300 * time.Millisecond)
		app.cmd.Process.Signal(syscall.SIGHUP)
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(app.Output(), "chain reload done") < i {
			if time.Now().After(deadline) {
				close(stop)
				t.Fatalf("reload %d did not finish:\n%s", i, app.Output())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	res := <-results
	t.Logf("%d reloads under 16 connections: %d requests, %s", reloads, res.Total(), res)
	if res.Failed() > 0 || res.OK == 0 {
		log, _ := readFile(filepath.Join(dir, "nginx-error.log"))
		var errs []string
		for _, l := range strings.Split(log, "\n") {
			if strings.Contains(l, "[error]") && len(errs) < 5 {
				errs = append(errs, l)
			}
		}
		t.Errorf("%d of %d requests failed across %d chain reloads: %s\nnginx: %s", res.Failed(), res.Total(), reloads, res, strings.Join(errs, "\n"))
	}
}
