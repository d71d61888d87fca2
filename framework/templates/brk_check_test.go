package templates

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"
)

// stack check called valid a template folder that New refuses to
// assemble: a page whose {{if}} branches end in different contexts, a page
// ending inside an attribute, a call of a template nowhere defined; stack
// up then refused to start ("ends in a non-text context"). And it refused
// a folder New takes: a broken file hidden by the same name in an earlier
// folder, which New never reads. Each case: what CheckSources says is what
// New says, for pages it can assemble from the folders alone.
func TestBrkCheckSourcesAgreesWithNewOnWholePages(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sources []fstest.MapFS
		want    string // "" : both take it
		newOnly string // New refuses, CheckSources leaves it to the app's templates
	}{
		{name: "unterminated attribute", sources: []fstest.MapFS{{"esc.html": {Data: []byte("<a href=\"{{.X}}\n")}}},
			want: "esc.html: ends in a non-text context"},
		{name: "if branches", sources: []fstest.MapFS{{"p.html": {Data: []byte("{{if .X}}<a href=\"{{else}}<b>{{end}}x\">")}}},
			want: "branches end in different contexts"},
		{name: "escape error in a base", sources: []fstest.MapFS{{
			"base.html":  {Data: []byte("<script>var x = '{{block \"t\" .}}{{end}}")},
			"child.html": {Data: []byte("{{extends \"base.html\"}}{{define \"t\"}}{{my_func .}}{{end}}")},
		}}, want: "ends in a non-text context"},
		{name: "undefined block", sources: []fstest.MapFS{{"p.html": {Data: []byte("{{template \"content\" .}}")}}},
			want: `template "content" not defined`},
		{name: "super without a parent block", sources: []fstest.MapFS{{
			"base.html": {Data: []byte("{{block \"a\" .}}{{end}}")},
			"c.html":    {Data: []byte("{{extends \"base.html\"}}{{define \"b\"}}{{template \"b.super\" .}}{{end}}")},
		}}, want: `no parent template defines block "b"`},
		{name: "cycle", sources: []fstest.MapFS{{
			"a.html": {Data: []byte("{{extends \"b.html\"}}")}, "b.html": {Data: []byte("{{extends \"a.html\"}}")},
		}}, want: "extends cycle"},
		{name: "hidden broken file", sources: []fstest.MapFS{
			{"index.html": {Data: []byte("<p>{{.X}}</p>")}},
			{"index.html": {Data: []byte("{{if}}broken")}, "other.html": {Data: []byte("{{template \"index.html\" .}}")}},
		}},
		{name: "app functions and includes", sources: []fstest.MapFS{{
			"inc.html":  {Data: []byte("<b>{{ app_func .X | upper }}</b>")},
			"page.html": {Data: []byte("<p>{{template \"inc.html\" .}}</p><a href=\"{{url \"x\"}}\">")},
		}}},
		{name: "text/template's builtins", sources: []fstest.MapFS{{"p.html": {Data: []byte("{{if eq .X 1}}<a href=\"/q?{{.Y | urlquery}}\">{{len .Z}}{{printf \"%d\" 1}}</a>{{end}}")}}}},
		{name: "a predefined escaper misused", sources: []fstest.MapFS{{"p.html": {Data: []byte("<a href=\"{{.X | html | app_func}}\">")}}},
			want: "predefined escaper"},
		{name: "parent only the app has", sources: []fstest.MapFS{{"p.html": {Data: []byte("{{extends \"app_base.html\"}}")}}},
			newOnly: "no such template"},
		{name: "include only the app has", sources: []fstest.MapFS{{"p.html": {Data: []byte("<a href=\"{{template \"app.html\"}}")}}},
			newOnly: "not defined"},
	} {
		var srcs []fs.FS
		for _, s := range tc.sources {
			srcs = append(srcs, s)
		}
		checkErr := CheckSyntax(srcs...)
		_, newErr := New(Options{Sources: srcs, Funcs: map[string]any{
			"app_func": func(any) string { return "" }, "my_func": func(any) string { return "" }, "url": func(string) string { return "" }}})
		switch {
		case tc.want == "" && tc.newOnly == "":
			if checkErr != nil || newErr != nil {
				t.Errorf("%s: CheckSources = %v, New = %v; want both nil", tc.name, checkErr, newErr)
			}
		case tc.newOnly != "":
			if checkErr != nil || newErr == nil || !strings.Contains(newErr.Error(), tc.newOnly) {
				t.Errorf("%s: CheckSources = %v (want nil), New = %v (want %q)", tc.name, checkErr, newErr, tc.newOnly)
			}
		default:
			if checkErr == nil || newErr == nil || !strings.Contains(checkErr.Error(), tc.want) || checkErr.Error() != newErr.Error() {
				t.Errorf("%s: CheckSources = %v, New = %v; want both %q", tc.name, checkErr, newErr, tc.want)
			}
		}
	}
}

// A named pipe among the templates (mkfifo page.html) hung stack check and
// the app's start: opening it waits for a writer. Both refuse it now.
func TestBrkNamedPipeTemplateIsRefusedNotWaitedFor(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe.html"), 0o600); err != nil {
		t.Fatal(err)
	}
	type result struct{ check, new error }
	done := make(chan result, 1)
	go func() {
		var r result
		r.check = CheckSyntax(os.DirFS(dir))
		_, r.new = New(Options{Sources: []fs.FS{os.DirFS(dir)}})
		done <- r
	}()
	select {
	case r := <-done:
		for _, err := range []error{r.check, r.new} {
			if err == nil || !strings.Contains(err.Error(), "pipe.html: not a regular file") {
				t.Errorf("err = %v, want pipe.html refused as not a regular file", err)
			}
		}
	case <-time.After(10 * time.Second):
		// Unblock the reader so the test binary can end.
		if f, err := os.OpenFile(filepath.Join(dir, "pipe.html"), os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("CheckSyntax or New hung on a named pipe")
	}
}
