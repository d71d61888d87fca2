package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// vhostsConfig serves two names on one port: app.test from the echo app,
// static.test and its subdomains from site-b/; with a default, every
// other Host from site-d/ (edge.locations, the implicit default server).
func vhostsConfig(listen string, withDefault bool) string {
	def := ""
	if withDefault {
		def = "\n  locations: [{path: /, root: site-d}]"
	}
	return `
run_dir: run
shutdown_timeout: 5s
edge:
  listen: ["` + listen + `"]` + def + `
  servers:
    - names: [app.test]
      locations: [{path: /, upstream: app}]
    - names: [static.test, "*.static.test"]
      locations: [{path: /, root: site-b}]
appserver:
  app: echo
`
}

// vhostsGet sends GET url with the Host header host.
func vhostsGet(t *testing.T, url, host string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s Host %s: %v", url, host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// Issue 9 point 5: two names on one port reach two upstreams, the default
// server catches the rest; without one, an unknown Host gets 421. The
// servers are shown by `stack config --explain`, checked by `stack check`
// and swapped by SIGHUP.
func TestEdgeVirtualHosts(t *testing.T) {
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	dir := writeConfig(t, vhostsConfig(listen, true))
	for name, body := range map[string]string{"site-b": "B", "site-d": "D"} {
		os.Mkdir(filepath.Join(dir, name), 0o755)
		os.WriteFile(filepath.Join(dir, name, "f"), []byte(body), 0o644)
	}

	out, _, code := run(t, dir, "config", "--explain")
	if code != 0 || !strings.Contains(out, "edge.servers[1].names") || !strings.Contains(out, "*.static.test") {
		t.Errorf("config --explain: exit %d:\n%s", code, out)
	}
	if out, errOut, code := run(t, dir, "check"); code != 0 {
		t.Fatalf("check: exit %d: %s%s", code, out, errOut)
	}

	p := start(t, dir, "up")
	url := p.url()
	check := func(when, host string, wantStatus int, want string) {
		t.Helper()
		status, body := vhostsGet(t, url+"f", host)
		if status != wantStatus || !strings.Contains(body, want) {
			t.Errorf("%s: Host %s: %d %q, want %d with %q", when, host, status, body, wantStatus, want)
		}
	}
	check("default", "app.test", 200, `"host": "app.test"`) // the echo app
	check("default", "APP.test:80", 200, `"host": "APP.test:80"`)
	check("default", "static.test", 200, "B")
	check("default", "www.static.test", 200, "B")
	check("default", "example.com", 200, "D")
	check("default", strings.TrimPrefix(strings.TrimSuffix(url, "/"), "http://"), 200, "D")

	edgeReload(t, p, vhostsConfig(listen, false), edgeReloaded)
	check("no default", "app.test", 200, `"host": "app.test"`)
	check("no default", "static.test", 200, "B")
	check("no default", "example.com", 421, "421 Misdirected Request")
	waitLog(t, p, "misdirected request", 5*time.Second) // written as the answer goes out, read a moment later

	// Two defaults: refused on SIGHUP, naming the keys; the servers stay.
	bad := strings.Replace(vhostsConfig(listen, true), "- names: [app.test]", "- names: [app.test]\n      default: true", 1)
	edgeReload(t, p, bad, "edge.servers[0].default: edge.locations (1) already form the implicit default server")
	check("refused", "example.com", 421, "")
	if code := p.stop(15); code != 0 {
		t.Errorf("exit %d", code)
	}
}
