package staticfiles

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func TestCollectstaticCompress(t *testing.T) {
	css := []byte(strings.Repeat("body { color: red; margin: 0 auto; }\n", 100))
	js := []byte(strings.Repeat("console.log('hello, world');\n", 50))
	src := fstest.MapFS{
		"polls/style.css": {Data: css},
		"polls/app.js":    {Data: js},
		"polls/logo.png":  {Data: bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 500)},
		"polls/tiny.txt":  {Data: []byte("hi")}, // compression would not shrink it
	}
	dir := t.TempDir()
	var out bytes.Buffer
	if _, err := Copy(src, dir, &out); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "polls", "tiny.txt.gz") // left by an earlier run
	os.WriteFile(stale, []byte("old"), 0o644)
	n, err := Precompress(src, dir, &out)
	if err != nil || n != 4 {
		t.Fatalf("Precompress: %d files, %v\n%s", n, err, out.String())
	}
	check := func() map[string][]byte {
		got := map[string][]byte{}
		for name, orig := range map[string][]byte{"polls/style.css": css, "polls/app.js": js} {
			p := filepath.Join(dir, filepath.FromSlash(name))
			fi, _ := os.Stat(p)
			for _, ext := range []string{".gz", ".zst"} {
				b, err := os.ReadFile(p + ext)
				if err != nil {
					t.Fatalf("%s%s: %v", name, ext, err)
				}
				if dec := decodeSibling(t, ext, b); !bytes.Equal(dec, orig) {
					t.Errorf("%s%s does not decode to the original", name, ext)
				}
				if len(b) >= len(orig) {
					t.Errorf("%s%s: %d bytes for %d", name, ext, len(b), len(orig))
				}
				vfi, _ := os.Stat(p + ext)
				if !vfi.ModTime().Equal(fi.ModTime()) {
					t.Errorf("%s%s: mtime %v, original's %v", name, ext, vfi.ModTime(), fi.ModTime())
				}
				got[name+ext] = b
			}
		}
		for _, name := range []string{"polls/logo.png.gz", "polls/logo.png.zst", "polls/tiny.txt.gz", "polls/tiny.txt.zst"} {
			if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name))); !os.IsNotExist(err) {
				t.Errorf("%s: written or left behind (%v)", name, err)
			}
		}
		leftovers, _ := filepath.Glob(filepath.Join(dir, "polls", ".compress-*"))
		if len(leftovers) > 0 {
			t.Errorf("temporary files left: %v", leftovers)
		}
		return got
	}
	first := check()
	// A second run (as collectstatic does it: copy, then compress) gives
	// the same files.
	if _, err := Copy(src, dir, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := Precompress(src, dir, io.Discard); err != nil {
		t.Fatal(err)
	}
	for name, b := range check() {
		if !bytes.Equal(b, first[name]) {
			t.Errorf("%s differs on the second run", name)
		}
	}
}

func decodeSibling(t *testing.T, ext string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	if ext == ".gz" {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	} else {
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
