package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A reload tells why it cannot read --config: a file replaced by a
// directory was refused as if it were a pipe (break-it 15).
func TestRereadableSaysWhatTheConfigBecame(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "stack.yaml")
	os.WriteFile(file, []byte("{}\n"), 0o644)
	if err := (&cmdEnv{cfgPath: file}).rereadable(); err != nil {
		t.Errorf("a regular file: %v", err)
	}
	if err := (&cmdEnv{cfgPath: dir}).rereadable(); err == nil || !strings.Contains(err.Error(), "is a directory now") {
		t.Errorf("a directory: %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := (&cmdEnv{cfgPath: fifo}).rereadable(); err == nil || !strings.Contains(err.Error(), "a pipe or /dev/stdin is read once") {
		t.Errorf("a pipe: %v", err)
	}
}
