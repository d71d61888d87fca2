package static

import (
	"io/fs"
	"os"
	"syscall"
)

// unchanged reports whether the open file f is still what fi described
// (sameFile), with one fstat and no allocation.
func unchanged(f *os.File, fi fs.FileInfo) bool {
	was, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return false
	}
	return st.Ino == was.Ino && st.Dev == was.Dev && st.Size == was.Size && st.Mode == was.Mode && st.Mtim == was.Mtim
}
