package staticfiles

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"path/filepath"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/stack-web/stack/edge/compress"
)

// Precompress writes X.gz and X.zst beside each text file X that
// collectstatic copied from src into dir, for the edge's static locations
// to serve to clients that accept them (edge.compression.precompressed).
//
//   - Only the types the edge would compress on the fly (text, JSON, JS,
//     SVG...); images, fonts in woff2 and archives are compressed already.
//   - A sibling that would not be smaller than X is not written, and one
//     left from an earlier run is removed.
//   - Each sibling gets X's modification time: the edge serves a sibling
//     only while it is not older than X, so a stale one is never served.
//   - Each is written to a temporary file and renamed into place, so an
//     edge serving the directory never sees half a file; a second run
//     writes the same files again.
//
// The levels are the best ones: this runs once per release, not per
// request.
func Precompress(src fs.FS, dir string, progress io.Writer) (written int, err error) {
	zw, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return 0, err
	}
	defer zw.Close()
	gw, err := gzip.NewWriterLevel(nil, gzip.BestCompression)
	if err != nil {
		return 0, err
	}
	var inBytes, outBytes int64
	err = fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() || !compress.Compressible(mime.TypeByExtension(path.Ext(p))) {
			return nil
		}
		target := filepath.Join(dir, filepath.FromSlash(p))
		data, err := os.ReadFile(target)
		if err != nil {
			return err
		}
		fi, err := os.Stat(target)
		if err != nil {
			return err
		}
		for _, enc := range []struct {
			ext string
			w   interface {
				io.WriteCloser
				Reset(io.Writer)
			}
		}{{".gz", gw}, {".zst", zw}} {
			var buf bytes.Buffer
			enc.w.Reset(&buf)
			if _, err := enc.w.Write(data); err != nil {
				return fmt.Errorf("compressing %s: %w", p, err)
			}
			if err := enc.w.Close(); err != nil {
				return fmt.Errorf("compressing %s: %w", p, err)
			}
			if buf.Len() >= len(data) {
				if err := os.Remove(target + enc.ext); err != nil && !os.IsNotExist(err) {
					return err
				}
				continue
			}
			if err := writeBeside(target+enc.ext, buf.Bytes(), fi); err != nil {
				return fmt.Errorf("compressing %s: %w", p, err)
			}
			written++
			inBytes += int64(len(data))
			outBytes += int64(buf.Len())
		}
		return nil
	})
	if err != nil {
		return written, fmt.Errorf("collectstatic --compress: %w", err)
	}
	if written > 0 {
		fmt.Fprintf(progress, "%d compressed files (.gz, .zst) written beside the originals: %s of originals in %s\n", written, humanBytes(inBytes), humanBytes(outBytes))
	}
	return written, nil
}

// writeBeside writes data to name through a temporary file in the same
// directory, with the original's mode and modification time.
func writeBeside(name string, data []byte, orig fs.FileInfo) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".compress-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // gone already after a rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(orig.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chtimes(tmp.Name(), orig.ModTime(), orig.ModTime()); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}
