package templates

import (
	"io/fs"
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

// CheckSyntax accepts every template this repository ships (they all pass
// New in their apps' tests), so it does not refuse what New would take.
func TestCheckSyntaxAcceptsTheShippedTemplates(t *testing.T) {
	for _, dir := range []string{"../../examples/polls/templates", "../admin/templates"} {
		if _, err := os.Stat(dir); err != nil {
			t.Fatal(err)
		}
		if err := CheckSyntax(os.DirFS(dir)); err != nil {
			t.Errorf("%s: %v", dir, err)
		}
	}
}

// What New refuses for its syntax, CheckSyntax refuses with the same
// message; what New refuses only for an unknown function, CheckSyntax
// leaves to New.
func TestCheckSyntaxAgreesWithNew(t *testing.T) {
	for _, tc := range []struct {
		text      string
		syntaxBad bool
	}{
		{"{{if .X}}open", true},
		{"{{end}}", true},
		{"{{.X | }}", false}, // text/template takes it too
		{"{{range}}{{end}}", true},
		{"text {{extends \"base.html\"}}", true},
		{"{{define \"a\"}}{{extends \"base.html\"}}{{end}}", true},
		{"{{ unknown_func .X }}", false},
		{"{{extends \"base.html\"}}{{define \"t\"}}{{.X}}{{end}}", false},
		{"", false},
	} {
		src := fstest.MapFS{"page.html": {Data: []byte(tc.text)}, "base.html": {Data: []byte("{{block \"t\" .}}{{end}}")}}
		checkErr := CheckSyntax(src)
		if got := checkErr != nil; got != tc.syntaxBad {
			t.Errorf("%q: CheckSyntax = %v, want an error: %v", tc.text, checkErr, tc.syntaxBad)
			continue
		}
		_, newErr := New(Options{Sources: []fs.FS{src}})
		if newErr == nil {
			if checkErr != nil {
				t.Errorf("%q: New took it, CheckSyntax refused: %v", tc.text, checkErr)
			}
			continue
		}
		if checkErr != nil && !strings.Contains(newErr.Error(), checkErr.Error()) {
			t.Errorf("%q: CheckSyntax says %q, New says %q", tc.text, checkErr, newErr)
		}
	}
}
