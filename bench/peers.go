package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// pythonHello is the classic first WSGI app, the peer of the hello app.
const pythonHello = `def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "11")])
    return [b"Hello, web!"]
`

// nginxConf is a foreground nginx on addr passing everything to pass (a
// uwsgi_pass or fastcgi_pass block), with every path under dir.
func nginxConf(dir, addr, pass string) string {
	return fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log error;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %[1]s/nginx/body;
    uwsgi_temp_path %[1]s/nginx/uwsgi;
    proxy_temp_path %[1]s/nginx/proxy;
    fastcgi_temp_path %[1]s/nginx/fastcgi;
    scgi_temp_path %[1]s/nginx/scgi;
    server {
        listen %[2]s;
        location / {
%[3]s
        }
    }
}
`, dir, addr, pass)
}

func startNginx(dir, addr, pass string) (*exec.Cmd, error) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		return nil, fmt.Errorf("--with-peers needs nginx: %w", err)
	}
	os.MkdirAll(filepath.Join(dir, "nginx"), 0o755)
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(nginxConf(dir, addr, pass)), 0o644); err != nil {
		return nil, err
	}
	return startProcess(dir, nginx, "-p", dir+"/", "-c", conf, "-e", filepath.Join(dir, "nginx-error.log"))
}

// peerWays (their wire bytes are nginx's encoding, not measured here) are Debian's nginx and uWSGI beside the stack: nginx → uWSGI
// (2 processes) → a Python WSGI hello, and nginx → FastCGI → stack
// appserver --protocol fastcgi (2 processes).
func peerWays() []way {
	return []way{
		{Name: "nginx-uwsgi-python", Title: "peers: nginx → uWSGI → Python hello", start: func(r *runner, dir, addr string) ([]*exec.Cmd, error) {
			uwsgi, err := exec.LookPath("uwsgi")
			if err != nil {
				return nil, fmt.Errorf("--with-peers needs uwsgi: %w", err)
			}
			app := filepath.Join(dir, "hello.py")
			sock := filepath.Join(dir, "py.sock")
			os.WriteFile(app, []byte(pythonHello), 0o644)
			u, err := startProcess(dir, uwsgi, "--plugin", "python3", "--master", "--processes", "2", "--socket", sock,
				"--chmod-socket=666", "--wsgi-file", app, "--need-app", "--die-on-term", "--disable-logging")
			if err != nil {
				return nil, err
			}
			n, err := startNginx(dir, addr, "include /etc/nginx/uwsgi_params;\nuwsgi_pass unix:"+sock+";")
			if err != nil {
				stopAll([]*exec.Cmd{u})
				return nil, err
			}
			return []*exec.Cmd{u, n}, nil
		}},
		{Name: "nginx-fastcgi-stack", Title: "peers: nginx → FastCGI → stack appserver", start: func(r *runner, dir, addr string) ([]*exec.Cmd, error) {
			sock := filepath.Join(dir, "app.sock")
			yaml := fmt.Sprintf("run_dir: %s\nappserver:\n  listen: unix:%s\n  socket_mode: \"0666\"\n  protocol: fastcgi\n  processes: 2\n  app: %s\n", filepath.Join(dir, "run"), sock, r.app)
			a, err := r.stack(dir, yaml, "appserver")
			if err != nil {
				return nil, err
			}
			n, err := startNginx(dir, addr, "include /etc/nginx/fastcgi_params;\nfastcgi_pass unix:"+sock+";")
			if err != nil {
				stopAll([]*exec.Cmd{a})
				return nil, err
			}
			return []*exec.Cmd{a, n}, nil
		}},
	}
}
