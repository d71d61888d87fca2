package cli

import (
	"bytes"
	"fmt"
	"os"
	"syscall"
	"testing"
	"unsafe"
)

// Colour is for terminals only: a pipe, a file or a buffer gets plain
// prefixes.
func TestIsTerminalIsFalseForPipesFilesAndBuffers(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, out := range map[string]any{"pipe": w, "file": f, "buffer": &bytes.Buffer{}} {
		if isTerminal(out.(interface{ Write([]byte) (int, error) }), false) {
			t.Errorf("%s taken for a terminal", name)
		}
	}
}

// A pseudo-terminal's slave side, as a terminal's stderr is, is one.
func TestIsTerminalIsTrueForAPseudoTerminal(t *testing.T) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var n, unlock uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatal(e)
	}
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatal(e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t.Setenv("NO_COLOR", "")
	if !isTerminal(s, true) {
		t.Error("a pseudo-terminal is not taken for a terminal")
	}
	t.Setenv("NO_COLOR", "1")
	if isTerminal(s, true) {
		t.Error("NO_COLOR did not turn colour off")
	}
	if !isTerminal(s, false) {
		t.Error("NO_COLOR made a terminal no terminal for stack top")
	}
}
