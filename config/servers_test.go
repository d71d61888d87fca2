package config

import (
	"strings"
	"testing"
)

// The upstream server syntax the edge documents, "ADDRESS [weight=N]
// [backup]", must load: the machine checks took "18092 backup" for a port.
func TestServerParametersPassTheChecks(t *testing.T) {
	t.Chdir(t.TempDir())
	path := writeFile(t, `edge:
  upstreams:
    app:
      protocol: http
      servers: ["127.0.0.1:18091 weight=3", "127.0.0.1:18092 backup", "unix:run/b.sock weight=2 backup"]
`)
	if _, msg := loadErr(t, Options{Path: path}); msg != "" {
		t.Errorf("valid servers refused: %s", msg)
	}
	path = writeFile(t, "edge:\n  upstreams:\n    app:\n      protocol: http\n      servers: [\"127.0.0.1:99999 backup\", \"127.0.0.1:1\"]\n")
	if _, msg := loadErr(t, Options{Path: path}); !strings.Contains(msg, `port "99999" is not a number`) {
		t.Errorf("a bad port beside a parameter: err = %q", msg)
	}
}
