package e2e

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostsUwsgiPacket is a minimal uwsgi request for GET path.
func hostsUwsgiPacket(path string) []byte {
	var vars []byte
	for _, kv := range [][2]string{{"REQUEST_METHOD", "GET"}, {"REQUEST_URI", path}, {"PATH_INFO", path},
		{"SERVER_PROTOCOL", "HTTP/1.1"}, {"HTTP_HOST", "x"}, {"SERVER_NAME", "x"}, {"SERVER_PORT", "80"}, {"REMOTE_ADDR", "10.9.9.9"}} {
		for _, s := range kv {
			vars = append(vars, byte(len(s)), byte(len(s)>>8))
			vars = append(vars, s...)
		}
	}
	return append([]byte{0, byte(len(vars)), byte(len(vars) >> 8), 0}, vars...)
}

// The edge reaches worker processes over uwsgi on TCP (kept connections,
// the inherited listener) from its allowed address; a client from another
// address is reset before the app reads a byte, and the refusal logged.
func TestHostsAllowListOverTCP(t *testing.T) {
	port := freePort(t)
	p, _, addr := workersStart(t, fmt.Sprintf(`
run_dir: run
shutdown_timeout: 5s
edge:
  listen: ["127.0.0.1:0"]
  locations:
    - {path: /, upstream: app}
  upstreams:
    app: {servers: ["127.0.0.1:%d"]}
appserver:
  listen: 127.0.0.1:%d
  allow: [127.0.0.1]
  app: echo
  processes: 2
  stats: unix:run/stats.sock
`, port, port))
	for i := range 20 {
		code, _, body := get(t, "http://"+addr+"/through-the-edge")
		if code != 200 || !strings.Contains(body, `"/through-the-edge"`) {
			t.Fatalf("GET %d through the edge: %d %s", i, code, body)
		}
	}

	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err == nil {
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(hostsUwsgiPacket("/from-outside"))
		b, rerr := io.ReadAll(c)
		if len(b) != 0 || rerr != nil && !errors.Is(rerr, syscall.ECONNRESET) {
			t.Fatalf("client from 127.0.0.2 read %q, %v; want no byte, EOF or a reset", b, rerr)
		}
	} else if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("dial from 127.0.0.2: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.Output(), "not in appserver.allow") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	out := p.Output()
	if !strings.Contains(out, "not in appserver.allow") || !strings.Contains(out, "127.0.0.2") {
		t.Fatalf("no refusal naming 127.0.0.2 logged:\n%s", out)
	}
	if strings.Contains(out, "/from-outside") {
		t.Errorf("the refused client's request reached the app:\n%s", out)
	}
	if code, _, _ := get(t, "http://"+addr+"/after"); code != 200 {
		t.Errorf("GET after the refusal: %d", code)
	}
}

// stack check refuses a TCP listen other hosts reach with no allow-list,
// saying why, and takes an explicit opt-out.
func TestHostsCheckRefusesAnOpenUwsgiPort(t *testing.T) {
	base := `
edge:
  listen: ["127.0.0.1:0"]
  locations:
    - {path: /, upstream: app}
  upstreams:
    app: {servers: ["10.77.0.2:3031"]}
appserver:
  listen: 0.0.0.0:3031
  app: echo
`
	_, stderr, code := run(t, writeConfig(t, base), "check")
	if code == 0 || !strings.Contains(stderr, "appserver.allow: empty, but appserver.listen 0.0.0.0:3031 is reachable from other hosts and the uwsgi protocol has no authentication") {
		t.Fatalf("check with no allow-list: exit %d\n%s", code, stderr)
	}
	for _, allow := range []string{"[10.77.0.1]", "[10.77.0.0/24]", "[all]"} {
		if _, stderr, code := run(t, writeConfig(t, base+"  allow: "+allow+"\n"), "check"); code != 0 {
			t.Errorf("check with allow %s: exit %d\n%s", allow, code, stderr)
		}
	}
}

// hostsAsk sends a uwsgi GET from source address src to addr and returns
// what came back ("" when the connection was refused or reset unanswered).
func hostsAsk(t *testing.T, src, addr string) string {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write(hostsUwsgiPacket("/asked"))
	b, _ := io.ReadAll(c)
	return string(b)
}

// A SIGHUP applies a new allow-list to worker processes (re-executed with
// it); served in the appserver's own process, the list is fixed at start,
// so a reload changing it is refused, not silently ignored.
func TestHostsReloadAndTheAllowList(t *testing.T) {
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := func(processes int, allow string) string {
		return fmt.Sprintf(`
run_dir: run
shutdown_timeout: 5s
edge:
  listen: ["127.0.0.1:0"]
  locations:
    - {path: /, upstream: app}
  upstreams:
    app: {servers: ["%s"]}
appserver:
  listen: %s
  allow: %s
  app: echo
  processes: %d
`, addr, addr, allow, processes)
	}
	dir := writeConfig(t, cfg(2, "[127.0.0.1]"))
	p := start(t, dir, "up")
	p.url()
	if got := hostsAsk(t, "127.0.0.2", addr); got != "" {
		t.Fatalf("127.0.0.2 not in the list, yet answered: %q", got)
	}
	edgeReload(t, p, cfg(2, "[127.0.0.1, 127.0.0.2]"), "msg=reloaded tier=appserver")
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := hostsAsk(t, "127.0.0.2", addr)
		if strings.HasPrefix(got, "HTTP/1.1 200") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the reload, 127.0.0.2 still refused (last answer %q)", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.stop(syscall.SIGTERM)

	dir = writeConfig(t, cfg(0, "[127.0.0.1]"))
	p = start(t, dir, "up")
	p.url()
	edgeReload(t, p, cfg(0, "[127.0.0.1, 127.0.0.2]"), "reload refused")
	if out := p.Output(); !strings.Contains(out, "appserver.allow ([127.0.0.1] → [127.0.0.1 127.0.0.2])") {
		t.Errorf("the refusal does not name appserver.allow:\n%s", out)
	}
	if got := hostsAsk(t, "127.0.0.2", addr); got != "" {
		t.Errorf("the refused reload let 127.0.0.2 in: %q", got)
	}
}
