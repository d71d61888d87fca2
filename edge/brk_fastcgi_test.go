package edge_test

import (
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// check_script with root: / still checks: the root trimmed to "" read as
// "no root", so the check (on by default) was silently off and PHP's
// cgi.fix_pathinfo ran an upload asked for as .../evil.jpg/x.php.
func TestBrkFastCGICheckScriptRootSlash(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "evil.jpg"), []byte("<?php"), 0o644)
	os.WriteFile(filepath.Join(dir, "index.php"), []byte("<?php"), 0o644)
	var reached atomic.Int64
	var script atomic.Value
	sock := startFakeFastCGI(t, func(c net.Conn, r *fcgiRequest) {
		reached.Add(1)
		script.Store(r.params["SCRIPT_FILENAME"])
		c.Write(fcgiStdout("Content-Type: text/plain\r\n\r\nran"))
	})
	cfg := fastcgiConfig(sock, "/")
	up := cfg.Upstreams["app"]
	up.CheckScript = true // the default; the files are on this disk
	cfg.Upstreams["app"] = up
	base := startEdge(t, cfg)
	code, body := rawRequest(t, base, "GET "+dir+"/evil.jpg/x.php HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	if code != 404 || reached.Load() != 0 {
		t.Errorf("root /: %s/evil.jpg/x.php: %d %q (reached the server: %v), want the edge's 404", dir, code, body, reached.Load() != 0)
	}
	code, body = rawRequest(t, base, "GET "+dir+"/index.php HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	if code != 200 || script.Load() != dir+"/index.php" {
		t.Errorf("root /: %s/index.php: %d %q, SCRIPT_FILENAME %v", dir, code, body, script.Load())
	}
}
