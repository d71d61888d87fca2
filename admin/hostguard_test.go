package admin

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// On the TCP listener, a request whose Host is not the admin's own (an IP
// address, localhost, admin.listen's host, admin.allowed_hosts) is refused:
// a DNS-rebinding page, whose name is in the Host, used to read /status,
// /status.json, /config and /metrics. The probes answer any Host, and the
// control socket, which no browser reaches, is unchanged.
func TestTCPListenerRefusesForeignHosts(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "admin.sock")
	cfg := Config{Listen: "127.0.0.1:0", Socket: sock, AllowedHosts: []string{".internal", "metrics.example"}}
	src := Sources{Config: func() ([]byte, error) { return []byte("edge: {}\n"), nil }}
	s := New(cfg, src, nil, quiet)
	serveForTest(t, s)
	tcp := s.Addr().String()
	_, port, _ := net.SplitHostPort(tcp)
	for _, c := range []struct {
		network, addr, host, path string
		want                      int
	}{
		{"tcp", tcp, "127.0.0.1:" + port, "/config", 200},
		{"tcp", tcp, "localhost:" + port, "/status.json", 200},
		{"tcp", tcp, "LocalHost.", "/metrics", 200},
		{"tcp", tcp, "[::1]:" + port, "/config", 200},
		{"tcp", tcp, "10.1.2.3:9", "/metrics", 200},
		{"tcp", tcp, "", "/config", 200}, // HTTP/1.0 without a Host: no browser
		{"tcp", tcp, "a.b.internal:" + port, "/config", 200},
		{"tcp", tcp, "internal", "/config", 200},
		{"tcp", tcp, "Metrics.Example:" + port, "/metrics", 200},
		{"tcp", tcp, "rebind.attacker.example:" + port, "/config", 400},
		{"tcp", tcp, "rebind.attacker.example:" + port, "/status", 400},
		{"tcp", tcp, "rebind.attacker.example:" + port, "/status.json", 400},
		{"tcp", tcp, "rebind.attacker.example:" + port, "/metrics", 400},
		{"tcp", tcp, "internal.attacker.example", "/config", 400},
		{"tcp", tcp, "xinternal", "/config", 400},
		{"tcp", tcp, "localhost.attacker.example", "/config", 400},
		{"tcp", tcp, "rebind.attacker.example", "/healthz", 200},
		{"tcp", tcp, "rebind.attacker.example", "/readyz", 200},
		{"unix", sock, "rebind.attacker.example", "/config", 200},
	} {
		if got := hostStatus(t, c.network, c.addr, c.host, c.path); got != c.want {
			t.Errorf("%s GET %s, Host %q: %d, want %d", c.network, c.path, c.host, got, c.want)
		}
	}
}

// hostStatus sends GET path with Host host (HTTP/1.0 without one when
// host is "") and returns the status.
func hostStatus(t *testing.T, network, addr, host, path string) int {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	req := "GET " + path + " HTTP/1.0\r\n\r\n"
	if host != "" {
		req = "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"
	}
	io.WriteString(c, req)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
