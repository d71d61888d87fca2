package e2e

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// With edge.processes: 2 the edge's children share one TLS session
// ticket secret, as nginx's workers share their master's key: a client's
// session resumes on whichever process the kernel gives its next
// connection, and on a child started again after a crash. Without it
// about half the reconnections would make a full handshake.
func TestEdgeProcessesShareTLSSessionTickets(t *testing.T) {
	started := time.Now()
	port := freePort(t)
	a := adminUp(t, fmt.Sprintf(`
run_dir: run
shutdown_timeout: 5s
edge:
  listen: ["127.0.0.1:0"]
  tls: internal
  tls_listen: ["127.0.0.1:%d"]
  processes: 2
appserver:
  app: echo
`, port))
	pem, err := os.ReadFile(filepath.Join(a.dir, "run", "tls", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatal("run/tls/ca.crt holds no certificate")
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cache := tls.NewLRUClientSessionCache(8)
	// reconnect makes n new connections, each a request, and counts those
	// that resumed the session.
	reconnect := func(n int) (resumed int) {
		for range n {
			c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", ClientSessionCache: cache, NextProtos: []string{"http/1.1"}})
			if err != nil {
				t.Fatalf("TLS to %s: %v", addr, err)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(c, "GET /echo/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("GET over TLS: %v %v", res, err)
			}
			res.Body.Close()
			if c.ConnectionState().DidResume {
				resumed++
			}
			c.Close()
		}
		return resumed
	}
	if got := reconnect(17); got != 16 {
		t.Errorf("%d of 16 reconnections resumed their session across two edge processes, want all", got)
	}
	// Both served some: the kernel spread the connections.
	handshakes := regexp.MustCompile(`(?m)^stack_edge_tls_handshakes_total\{process="(\d)",result="http/1.1",tier="edge"\} (\d+)$`)
	_, _, expo := adminGet(a.admin, "/metrics")
	by := map[string]int{}
	for _, m := range handshakes.FindAllStringSubmatch(expo, -1) {
		n, _ := strconv.Atoi(m[2])
		by[m[1]] += n
	}
	if by["1"] == 0 || by["2"] == 0 {
		t.Fatalf("TLS handshakes by edge process: %v, want both (the test did not reach two processes)\n%s", by, grepLines(expo, "tls_handshakes"))
	}

	// A child that dies is started again with the same secret (once it
	// has run past its start-up: an exit before is fatal).
	time.Sleep(time.Until(started.Add(4 * time.Second)))
	first := edgeChildPIDs(t, a.p.cmd.Process.Pid)
	syscall.Kill(first[0], syscall.SIGKILL)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if again := edgeChildPIDs(t, a.p.cmd.Process.Pid); again[0] != first[0] && again[0] != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("edge-1 was not started again:\n%s", a.p.Output())
		}
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if code, _, _ := adminGet(a.admin, "/readyz"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after edge-1's restart:\n%s", a.p.Output())
		}
	}
	if got := reconnect(16); got != 16 {
		t.Errorf("after edge-1's restart, %d of 16 reconnections resumed their session, want all", got)
	}
}
