package config

import (
	"strings"
	"testing"
)

// check refuses a tls_listen address that overlaps another the edge binds,
// naming both keys, as it does for edge.listen.
func TestCheckTLSListenCollisions(t *testing.T) {
	t.Chdir(t.TempDir())
	path := writeFile(t, `edge:
  listen: ["0.0.0.0:18480"]
  tls: internal
  tls_listen: ["127.0.0.1:18480", "127.0.0.1:18443", "0.0.0.0:18443", "127.0.0.1:0"]
`)
	_, msg := loadErr(t, Options{Path: path})
	for _, want := range []string{
		`edge.tls_listen[0]: "127.0.0.1:18480" collides with edge.listen[0] "0.0.0.0:18480"`,
		`edge.tls_listen[2]: "0.0.0.0:18443" collides with edge.tls_listen[1] "127.0.0.1:18443"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("no %q in:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "tls_listen[3]") {
		t.Errorf("port 0 (any free port) was refused:\n%s", msg)
	}
	path = writeFile(t, "edge:\n  tls: internal\n  tls_listen: [\"127.0.0.1:18443\"]\n")
	if f, msg := loadErr(t, Options{Path: path}); msg != "" || !f.Edge.TLS.Internal || f.Edge.TLSDir != "run/tls" {
		t.Errorf("a valid TLS configuration: %q, tls_dir %q", msg, f.Edge.TLSDir)
	}
}
