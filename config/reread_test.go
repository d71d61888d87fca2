package config

import (
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
)

// A file written in place while it was read (cp over stack.yaml, an
// editor's save) was parsed as it was found, half-written. One that
// changes during each of two reads is refused.
func TestAFileWrittenWhileItIsReadIsRefused(t *testing.T) {
	t.Chdir(t.TempDir())
	// Large, so that each read takes long enough for the writer below
	// to change the file under it.
	path := writeFile(t, strings.Repeat("# a comment line of the file\n", 40_000))
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				w.WriteString("#\n")
			}
		}
	})
	_, err = Load(Options{Path: path, Apps: testApps})
	close(done)
	wg.Wait()
	if !errors.Is(err, ErrChanged) || !strings.Contains(err.Error(), "rename it over") {
		t.Fatalf("a file written to while it is read: %v, want it refused as changed", err)
	}
}

// A reload (RefuseBlank) refuses an empty or whitespace-only file, most
// likely one being written (truncated, not yet filled), rather than
// apply the defaults; a start takes it (the defaults, and STACK_*).
func TestRefuseBlankRefusesAnEmptyFile(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, body := range []string{"", " \n  \n"} {
		path := writeFile(t, body)
		_, err := Load(Options{Path: path, Apps: testApps, RefuseBlank: true})
		if !errors.Is(err, ErrBlank) || !strings.Contains(err.Error(), "rename it over") {
			t.Errorf("%q with RefuseBlank: %v, want ErrBlank", body, err)
		}
		if _, msg := loadErr(t, Options{Path: path}); msg != "" {
			t.Errorf("%q at start: %s", body, msg)
		}
	}
	if _, msg := loadErr(t, Options{Path: writeFile(t, "{}\n"), RefuseBlank: true}); msg != "" {
		t.Errorf("{} with RefuseBlank: %s", msg)
	}
}
