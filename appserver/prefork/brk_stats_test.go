package prefork

import (
	"os"
	"path/filepath"
	"testing"
)

// Closing the stats server removed whatever was at its socket's path:
// with the file removed and another master's stats socket (or any file)
// put there, stopping the first master deleted it. Close now removes the
// path only while it names the socket it bound.
func TestBrkStatsCloseLeavesAReplacedSocketFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stats.sock")
	m := &Master{}
	first, err := listenStats("unix:"+path, m)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	second, err := listenStats("unix:"+path, m)
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("the second stats socket is gone after the first server closed: %v", err)
	}
	second.Close()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("the second stats server left its socket file: %v", err)
	}
}
