package release

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stack-web/stack/config"
)

// runRelease runs f's release with each step a plain child, its output to
// stderr.
func runRelease(f *config.File, stderr *bytes.Buffer) error {
	return Run(f, Env{Logger: slog.New(slog.NewTextHandler(stderr, nil)), Stderr: stderr,
		Step: func(ctx context.Context, argv []string, out io.Writer) error {
			cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
			cmd.Stdout, cmd.Stderr = out, out
			return cmd.Run()
		}})
}

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
		err := runRelease(f, &stderr)
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
	if err := runRelease(f, &stderr); err != nil {
		t.Fatalf("runRelease: %v\n%s", err, stderr.String())
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the release did not run: %v", err)
	}
}

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
	release := func(listen, stats string) error {
		f := new(config.Default())
		f.Release = [][]string{{"touch", marker}}
		f.Edge.Listen, f.Admin.Listen = []string{"127.0.0.1:0"}, ""
		f.Appserver.Listen, f.Appserver.Stats = listen, stats
		return runRelease(f, &stderr)
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
