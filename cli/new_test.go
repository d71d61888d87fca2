package cli

import (
	"bytes"
	"strings"
	"testing"
)

// `stack new` is cli/internal/scaffold's command (tested there), on the
// root with its flags.
func TestNewIsWired(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Run([]string{"new", "My-Site", "--no-tidy", "--module", "example.com/x", "--stack-path", ".", "--dir", t.TempDir()}, &out, &errb); code != 1 || !strings.Contains(errb.String(), `stack: new: "My-Site" is not a project name`) {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
}
