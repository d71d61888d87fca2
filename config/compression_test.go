package config

import (
	"slices"
	"strings"
	"testing"
)

// The compression keys, as `stack check` reports them, and the DESIGN
// shape {gzip: true, zstd: true, min_length: 256}.
func TestCheckCompressionKeys(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, c := range []struct {
		set  []string
		want string
	}{
		{[]string{"edge.compression.min_length=-1"}, "edge.compression.min_length: -1 is not between 0 and 1048576 bytes"},
		{[]string{"edge.compression.min_length=2000000"}, "edge.compression.min_length: 2000000 is not between 0 and 1048576 bytes"},
		{[]string{"edge.compression.gzip=yes please"}, "edge.compression.gzip"},
		{[]string{"edge.compression.types=[text/*, '*/*']"}, `edge.compression.types[1]: "*/*" would compress images`},
		{[]string{"edge.compression={zstd: true, types: []}"}, "edge.compression.types: is empty while gzip or zstd is on"},
		{[]string{"edge.compression.brotli=true"}, "edge.compression.brotli"},
		{[]string{"edge.locations=[{path: /, upstream: app, compression: maybe}]"}, "edge.locations[0].compression"},
	} {
		_, msg := loadErr(t, Options{Set: c.set})
		if !strings.Contains(msg, c.want) {
			t.Errorf("--set %q: err = %q, want %q", c.set, msg, c.want)
		}
	}
	f, msg := loadErr(t, Options{})
	if msg != "" {
		t.Fatal(msg)
	}
	if c := f.Edge.Compression; c.Gzip || c.Zstd || c.MinLength != 256 || !c.Precompressed || !slices.Contains(c.Types, "text/*") {
		t.Errorf("defaults: %+v", c)
	}
	f, msg = loadErr(t, Options{Set: []string{"edge.compression={gzip: true, zstd: true, min_length: 256}", "edge.locations=[{path: /, upstream: app, compression: false}]"}})
	if msg != "" {
		t.Fatal(msg)
	}
	if c := f.Edge.Compression; !c.Gzip || !c.Zstd || c.MinLength != 256 || !slices.Contains(c.Types, "application/json") {
		t.Errorf("DESIGN shape: %+v", c)
	}
	if l := f.Edge.Locations[0]; l.Compression == nil || *l.Compression {
		t.Errorf("location override: %v", l.Compression)
	}
}
