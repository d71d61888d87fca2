package tlscert

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A CA whose key was removed (ca.crt alone, the file users trust) was
// silently replaced by a new CA on the next start or SIGHUP: every
// browser that trusted the old one then refused the edge. It is now an
// error naming both files, from Load and from CheckCA (stack check).
func TestCAWithoutItsKeyIsAnErrorNotReplaced(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	if _, err := loadOrCreateCA(dir, quiet()); err != nil {
		t.Fatal(err)
	}
	crt := filepath.Join(dir, caCertName)
	before, _ := os.ReadFile(crt)
	os.Remove(filepath.Join(dir, caKeyName))
	sites := []Site{{Key: "edge.tls", TLS: Config{Internal: true}}}
	_, err := NewManager(quiet()).Load(sites, Options{CADir: dir})
	if err == nil || !strings.Contains(err.Error(), "ca.key is missing") || !strings.Contains(err.Error(), "edge.tls") {
		t.Errorf("Load with ca.crt and no ca.key: %v, want an error naming the missing key", err)
	}
	if after, _ := os.ReadFile(crt); !bytes.Equal(before, after) {
		t.Error("ca.crt was replaced by a new CA")
	}
	if _, err := os.Stat(filepath.Join(dir, caKeyName)); err == nil {
		t.Error("a new ca.key was written beside the old ca.crt")
	}
	if err := CheckCA(dir); err == nil || !strings.Contains(err.Error(), "ca.key is missing") {
		t.Errorf("CheckCA: %v", err)
	}
}

// stack check read a tls: internal configuration without looking at the
// CA: a corrupted ca.crt passed check, then failed the start, or failed
// the edge's half of a SIGHUP reload after the appserver had reloaded.
func TestCheckCAReadsAnExistingCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	if err := CheckCA(dir); err != nil {
		t.Errorf("no CA yet (created at start): %v", err)
	}
	if _, err := loadOrCreateCA(dir, quiet()); err != nil {
		t.Fatal(err)
	}
	if err := CheckCA(dir); err != nil {
		t.Errorf("a whole CA: %v", err)
	}
	// A key being written by another process, its certificate not yet:
	// a start racing it must not be refused.
	other := filepath.Join(t.TempDir(), "tls")
	os.MkdirAll(other, 0o700)
	os.WriteFile(filepath.Join(other, caKeyName), []byte("partial"), 0o600)
	if err := CheckCA(other); err != nil {
		t.Errorf("a CA being created: %v", err)
	}
	os.WriteFile(filepath.Join(dir, caCertName), []byte("garbage\n"), 0o644)
	if err := CheckCA(dir); err == nil || !strings.Contains(err.Error(), "ca.crt") {
		t.Errorf("a corrupted ca.crt: %v", err)
	}
}

// A ca.key others can read (copied with cp -p from elsewhere, a chmod -R
// of run_dir) was used as it was: any local user could issue
// certificates for any site, trusted by every client that trusts ca.crt.
// It is refused, at check, start and reload, as ssh refuses such a key.
func TestCAKeyReadableByOthersIsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	if _, err := loadOrCreateCA(dir, quiet()); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, caKeyName)
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604} {
		os.Chmod(key, mode)
		if err := CheckCA(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("ca.key mode %04o: %v, want a refusal", mode, err)
		}
		if _, err := NewManager(quiet()).Load([]Site{{Key: "edge.tls", TLS: Config{Internal: true}}}, Options{CADir: dir}); err == nil {
			t.Errorf("ca.key mode %04o: loaded", mode)
		}
	}
	os.Chmod(key, 0o400)
	if err := CheckCA(dir); err != nil {
		t.Errorf("ca.key mode 0400: %v", err)
	}
}
