package static

import (
	"io/fs"
	"os"
	"syscall"

	"github.com/stack-web/stack/internal/rawio"
)

// unchanged reports whether the open file f is still what fi described
// (sameFile), with one fstat and no allocation.
func unchanged(f *os.File, fi fs.FileInfo) bool {
	was, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	var st syscall.Stat_t
	// Raw (rawio.Fstat): it never waits, and entering the scheduler's
	// syscall state for it woke the runtime's monitor thread.
	if rawio.Fstat(f.Fd(), &st) != 0 {
		return false
	}
	return st.Ino == was.Ino && st.Dev == was.Dev && st.Size == was.Size && st.Mode == was.Mode && st.Mtim == was.Mtim
}
