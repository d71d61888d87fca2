package framework

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Two disagreements between stack check and the app's start over
// template_dirs. A folder whose page html/template cannot escape (it ends
// inside an attribute) was called valid by check, and stack up then
// refused to start ("esc.html: ends in a non-text context"). A broken file
// hidden by the same name in an earlier folder, which the app never reads,
// made check (and so stack up, which runs it) refuse a configuration that
// started before template_dirs were parsed.
func TestBrkValidateTemplateDirsAsTheAppReadsThem(t *testing.T) {
	write := func(dir, name, text string) string {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	first := write(t.TempDir(), "index.html", "<p>{{.X}}</p>")
	shadowed := write(t.TempDir(), "index.html", "{{if}} broken, and hidden by the first folder's")
	escape := write(t.TempDir(), "esc.html", "<a href=\"{{.X}}\n")
	for _, tc := range []struct {
		name string
		dirs []string
		want string // "" for valid
	}{
		{"a hidden broken file", []string{first, shadowed}, ""},
		{"the broken file first", []string{shadowed, first}, "apps.polls.template_dirs[0]: templates: index.html:1: missing value for if"},
		{"a page that cannot be escaped", []string{first, escape}, "apps.polls.template_dirs[1]: templates: esc.html: ends in a non-text context"},
	} {
		s := Settings{Name: "polls", Debug: true, TemplateDirs: tc.dirs}
		err := s.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
		_, newErr := New(s, Config{})
		if (newErr == nil) != (tc.want == "") {
			t.Errorf("%s: New = %v, Validate = %v: they disagree", tc.name, newErr, err)
		}
	}
}
