package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Debian's nginx as it is normally run: a master as root and workers as
// www-data. The README's recipe makes the socket reachable without any
// chmod after the fact: run_dir is created root:www-data with mode 2750
// (the setgid bit gives every socket made in it the group www-data), and
// the socket's default mode 0660 lets that group connect.
func TestNginxAsWwwDataInFrontOfStackAppserver(t *testing.T) {
	nginx := need(t, "nginx")
	grp, err := user.LookupGroup("www-data")
	if err != nil {
		t.Fatalf("the www-data group, which Debian's nginx runs as: %v", err)
	}
	gid, _ := strconv.Atoi(grp.Gid)

	// t.TempDir's directories are 0700: nginx's workers could not even
	// reach their temporary files there, as they cannot under /root.
	base, err := os.MkdirTemp("", "stack-wwwdata-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}

	// The README's recipe, run as written but for the directory.
	install := strings.Fields(readmeCommands(t, "install -d")[0])
	runDir := filepath.Join(base, "run")
	install[len(install)-1] = runDir
	if out, err := exec.Command(install[0], install[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(install, " "), err, out)
	}
	if fi, err := os.Stat(runDir); err != nil || fi.Mode()&os.ModeSetgid == 0 || fi.Sys().(*syscall.Stat_t).Gid != uint32(gid) {
		t.Fatalf("the README's install line should make a setgid directory of group www-data: %v %v", fi, err)
	}
	cfg := filepath.Join(base, "stack.yaml")
	os.WriteFile(cfg, []byte("run_dir: "+runDir+"\nappserver:\n  app: echo\n  processes: 2\n"), 0o644)
	start(t, base, "appserver", "-c", cfg)
	sock := filepath.Join(runDir, "app.sock")
	waitFile(t, sock)
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o660 || fi.Sys().(*syscall.Stat_t).Gid != uint32(gid) {
		t.Fatalf("the socket should be 0660 with group www-data: %v %v", fi, err)
	}

	port := freePort(t)
	conf := fmt.Sprintf(`
daemon off;
master_process on;
user www-data;
worker_processes 2;
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
            include /etc/nginx/uwsgi_params;
            uwsgi_pass unix:%[3]s;
        }
    }
}
`, base, port, sock)
	os.MkdirAll(filepath.Join(base, "nginx"), 0o755)
	os.WriteFile(filepath.Join(base, "nginx.conf"), []byte(conf), 0o644)
	master := daemon(t, base, nginx, "-p", base+"/", "-c", filepath.Join(base, "nginx.conf"), "-e", filepath.Join(base, "nginx-error.log"))
	url := fmt.Sprintf("http://127.0.0.1:%d/www", port)
	waitHTTP(t, url)

	workers := wwwdataChildren(t, master.Process.Pid)
	if len(workers) == 0 {
		t.Fatalf("nginx (pid %d) has no worker running as www-data", master.Process.Pid)
	}
	t.Logf("nginx master %d (root), workers as www-data: %v", master.Process.Pid, workers)

	for i := range 4 { // both workers, most likely
		resp, err := http.Get(fmt.Sprintf("%s/%d", url, i))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b, _ := os.ReadFile(filepath.Join(base, "nginx-error.log"))
			t.Fatalf("GET through nginx workers as www-data: %d\n%s", resp.StatusCode, b)
		}
	}

	// The control: without the group's access (run_dir 0700, as the stack
	// creates it when missing), the same workers are refused.
	if err := os.Chmod(runDir, 0o700); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(url + "/control")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	b, _ := os.ReadFile(filepath.Join(base, "nginx-error.log"))
	if resp.StatusCode != 502 || !strings.Contains(string(b), "Permission denied") {
		t.Errorf("run_dir 0700: %d, want 502 with \"Permission denied\" in nginx's log:\n%s", resp.StatusCode, b)
	}
}

// wwwdataChildren lists the children of pid whose real and effective user
// is www-data, from /proc.
func wwwdataChildren(t *testing.T, pid int) []int {
	t.Helper()
	u, err := user.Lookup("www-data")
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir("/proc")
	var kids []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		status, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		var ppid, uids string
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "PPid:"); ok {
				ppid = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(line, "Uid:"); ok {
				uids = v
			}
		}
		f := strings.Fields(uids)
		if ppid == strconv.Itoa(pid) && len(f) >= 2 && f[0] == u.Uid && f[1] == u.Uid {
			kids = append(kids, child)
		}
	}
	return kids
}
