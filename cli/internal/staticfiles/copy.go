// Package staticfiles is what `stack collectstatic` does to the files: it
// copies an app's static files into a directory, with progress lines as
// Django's collectstatic prints them, and with --compress writes each text
// file's .gz and .zst beside it for the edge to serve precompressed. It
// stands alone because it is file work done once per release, apart from
// the app that provides the files (cli builds it) and from the edge that
// serves them.
package staticfiles

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Copy copies every regular file of src into dir, replacing files
// that exist, as Django's collectstatic does, printing each file to
// progress with how far along it is ("[3/12] polls/style.css (1.2 KiB)").
func Copy(src fs.FS, dir string, progress io.Writer) (int, error) {
	total := 0
	fs.WalkDir(src, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			total++
		}
		return nil // a walk error is reported by the copying walk below
	})
	n := 0
	err := fs.WalkDir(src, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(path))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		in, err := src.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		size, err := io.Copy(out, in)
		if err != nil {
			out.Close()
			return fmt.Errorf("copying %s: %w", path, err)
		}
		n++
		fmt.Fprintf(progress, "  [%d/%d] %s (%s)\n", n, total, path, humanBytes(size))
		return out.Close()
	})
	if err != nil {
		return n, fmt.Errorf("collectstatic: %w", err)
	}
	return n, nil
}

// humanBytes writes a size as people read it: 512 B, 1.2 KiB, 3.4 MiB.
func humanBytes(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
}
