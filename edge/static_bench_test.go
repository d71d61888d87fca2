package edge_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stack-web/stack/edge"
)

// Static files through the edge over a real connection, sendfile
// included: a 1 KiB file (from the small-file cache) and a 1 MiB one.
func BenchmarkStaticFiles(b *testing.B) {
	dir := b.TempDir()
	for name, size := range map[string]int{"1k.bin": 1 << 10, "1m.bin": 1 << 20} {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, size), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	cfg := edge.DefaultConfig()
	cfg.Locations = []edge.LocationConfig{{Path: "/files/", Root: dir}}
	cfg.AccessLog = "off"
	base := startEdge(b, cfg)
	for _, name := range []string{"1k.bin", "1m.bin"} {
		b.Run(name, func(b *testing.B) { benchClient(b, base, "/files/"+name) })
	}
}
