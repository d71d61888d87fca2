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

// Found by running the binary: a second `stack up` in the same run_dir
// (its app socket served by the first), or one whose TCP
// appserver.listen or appserver.stats was taken, ran the release (a
// migration, on the first one's database) and only then failed to bind.
// They stop it before the release, as a taken edge or admin port does; a
// stale socket file (nothing behind it) does not.
func TestReleaseDoesNotRunWhenTheAppSocketIsServed(t *testing.T) {
	dir := t.TempDir()
	served := filepath.Join(dir, "app.sock")
	ul, err := net.Listen("unix", served)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	stale := filepath.Join(dir, "stale.sock")
	sl, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	sl.(*net.UnixListener).SetUnlinkOnClose(false)
	sl.Close()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	marker := filepath.Join(dir, "released")
	var stderr bytes.Buffer
	c := &cmdEnv{stderr: &stderr, logger: slog.New(slog.NewTextHandler(&stderr, nil))}
	release := func(listen, stats string) error {
		f := new(config.Default())
		f.Release = [][]string{{"touch", marker}}
		f.Edge.Listen, f.Admin.Listen = []string{"127.0.0.1:0"}, ""
		f.Appserver.Listen, f.Appserver.Stats = listen, stats
		return c.runRelease(f)
	}
	for _, tc := range []struct{ key, listen, stats, why string }{
		{"appserver.listen", "unix:" + served, "", "another server is already listening"},
		{"appserver.listen", taken.Addr().String(), "", "address already in use"},
		{"appserver.stats", "unix:" + stale, taken.Addr().String(), "address already in use"},
	} {
		err := release(tc.listen, tc.stats)
		if err == nil || !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%s %s in use: runRelease: %v, want the key and %q", tc.key, tc.listen+tc.stats, err, tc.why)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("%s in use: the release ran", tc.key)
		}
	}
	if err := release("unix:"+stale, ""); err != nil {
		t.Fatalf("a stale socket: runRelease: %v\n%s", err, stderr.String())
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the release did not run: %v", err)
	}
}
