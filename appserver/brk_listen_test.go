package appserver

import (
	"os"
	"path/filepath"
	"testing"
)

// Close removed whatever was at the socket's path: after the socket file
// had been removed and another appserver had started on the same path, or
// a regular file put there, stopping the first appserver deleted the
// second one's live socket (it went on running, unreachable) or the file.
// Close now removes the path only while it is still the socket it bound.
func TestBrkListenCloseLeavesAReplacedSocketFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.sock")
	first, err := Listen("unix:"+path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(path) // an operator, a deploy script
	second, err := Listen("unix:"+path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	first.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("the second server's socket is gone after the first one closed: %v", err)
	}
	second.Close()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("the second server left its own socket file on Close: %v", err)
	}

	third, err := Listen("unix:"+path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	if err := os.WriteFile(path, []byte("not a socket"), 0o600); err != nil {
		t.Fatal(err)
	}
	third.Close()
	if b, err := os.ReadFile(path); err != nil || string(b) != "not a socket" {
		t.Errorf("a regular file put at the socket's path: after Close %q, %v", b, err)
	}
}
