package cli

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stack-web/stack/config"
)

// Found by running the binary: with admin.listen on a port already in
// use, `stack up` ran the release (a migration) and only then failed to
// bind. A port in use stops it before the release changes anything.
func TestReleaseDoesNotRunWhenAPortIsInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	marker := filepath.Join(t.TempDir(), "released")
	var stderr bytes.Buffer
	c := &cmdEnv{stderr: &stderr, logger: slog.New(slog.NewTextHandler(&stderr, nil))}
	for _, key := range []string{"admin.listen", "edge.listen[1]"} {
		f := new(config.Default())
		f.Release = [][]string{{"touch", marker}}
		f.Edge.Listen = []string{"127.0.0.1:0"}
		f.Admin.Listen = "127.0.0.1:0"
		if key == "admin.listen" {
			f.Admin.Listen = taken.Addr().String()
		} else {
			f.Edge.Listen = append(f.Edge.Listen, taken.Addr().String())
		}
		err := c.runRelease(f)
		if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "address already in use") {
			t.Errorf("%s in use: runRelease: %v, want the key and the reason", key, err)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("%s in use: the release ran", key)
		}
	}
	// Free ports: the release runs.
	f := new(config.Default())
	f.Release = [][]string{{"touch", marker}}
	f.Edge.Listen, f.Admin.Listen = []string{"127.0.0.1:0"}, ""
	if err := c.runRelease(f); err != nil {
		t.Fatalf("runRelease: %v\n%s", err, stderr.String())
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the release did not run: %v", err)
	}
}
