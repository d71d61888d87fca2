package edge_test

import (
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// check_script (default on): a script that is not a regular file under
// root is the edge's 404 and never reaches the FastCGI server, as nginx's
// try_files $fastcgi_script_name =404; PHP's cgi.fix_pathinfo would run
// /uploads/evil.jpg for /uploads/evil.jpg/x.php.
func TestFastCGICheckScript(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "uploads"), 0o755)
	os.MkdirAll(filepath.Join(root, "dir.php"), 0o755)
	os.WriteFile(filepath.Join(root, "index.php"), []byte("<?php"), 0o644)
	os.WriteFile(filepath.Join(root, "uploads", "evil.jpg"), []byte("<?php"), 0o644)
	var reached atomic.Int64
	sock := startFakeFastCGI(t, func(c net.Conn, r *fcgiRequest) {
		reached.Add(1)
		c.Write(fcgiStdout("Content-Type: text/plain\r\n\r\nran " + r.params["SCRIPT_FILENAME"]))
	})
	for _, check := range []bool{true, false} {
		cfg := fastcgiConfig(sock, root)
		up := cfg.Upstreams["app"]
		up.CheckScript = check
		cfg.Upstreams["app"] = up
		base := startEdge(t, cfg)
		for path, exists := range map[string]bool{
			"/index.php": true, "/index.php/a/b": true, "/": true, // index.php appended
			"/uploads/evil.jpg/x.php": false, "/absent.php": false, "/absent.php/x": false,
			"/uploads/": false, "/dir.php": false, "/uploads/evil.jpg/": false,
		} {
			before := reached.Load()
			code, body := rawRequest(t, base, "GET "+path+" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
			ran := reached.Load() != before
			switch {
			case exists || !check:
				if code != 200 || !ran {
					t.Errorf("check_script %v: %s: %d %q (reached the server: %v), want the server's 200", check, path, code, body, ran)
				}
			default:
				if code != 404 || ran || body != "404 Not Found\n" {
					t.Errorf("check_script %v: %s: %d %q (reached the server: %v), want the edge's 404", check, path, code, body, ran)
				}
			}
		}
	}
}
