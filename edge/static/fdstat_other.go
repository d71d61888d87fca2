//go:build !linux

package static

import (
	"io/fs"
	"os"
)

// unchanged reports whether the open file f is still what fi described.
func unchanged(f *os.File, fi fs.FileInfo) bool {
	now, err := f.Stat()
	return err == nil && sameFile(fi, now)
}
