package templates

import (
	"errors"
	"html/template"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		file  string // the file the error must name
		line  int    // and its line; 0: none
		want  string // part of the message
	}{
		{"syntax", map[string]string{"polls/index.html": "a\n\n{{if .X}}\nb"},
			"polls/index.html", 4, "unexpected EOF"},
		{"unknown function", map[string]string{"polls/index.html": strings.Repeat("\n", 11) + "{{.X | frobnicate}}"},
			"polls/index.html", 12, `function "frobnicate" not defined`},
		{"error in a define", map[string]string{"base.html": `{{block "b" .}}{{end}}`,
			"polls/index.html": "{{extends \"base.html\"}}\n{{define \"b\"}}\n{{.X.}}{{end}}"},
			"polls/index.html", 3, "unexpected"},
		{"missing parent", map[string]string{"polls/index.html": "\n{{extends \"polls/base.html\"}}"},
			"polls/index.html", 2, `extends "polls/base.html": no such template`},
		{"extends cycle", map[string]string{
			"c.html": "{{extends \"a.html\"}}", "b.html": "{{extends \"c.html\"}}",
			"a.html": "\n\n{{extends \"b.html\"}}", "page.html": "{{extends \"b.html\"}}"},
			"a.html", 3, "extends cycle: a.html → b.html → c.html → a.html"},
		{"extends itself", map[string]string{"a.html": `{{extends "a.html"}}`},
			"a.html", 1, "extends cycle: a.html → a.html"},
		{"extends not first", map[string]string{"a.html": "<p>\n{{extends \"b.html\"}}", "b.html": ""},
			"a.html", 2, "extends must be the first action"},
		{"extends in a block", map[string]string{"a.html": "{{define \"x\"}}\n\n{{extends \"b.html\"}}{{end}}", "b.html": ""},
			"a.html", 3, "extends must be the first action"},
		{"extends not a literal", map[string]string{"a.html": "{{extends .Base}}"},
			"a.html", 1, "extends takes one string literal"},
		{"super without parent", map[string]string{"a.html": "{{define \"x\"}}\n{{template \"x.super\" .}}{{end}}"},
			"a.html", 2, `no parent template defines block "x"`},
		{"missing include", map[string]string{"a.html": "\n\n{{template \"polls/_nope.html\" .}}"},
			"a.html", 3, `template "polls/_nope.html" not defined`},
		{"include of an extending file", map[string]string{"a.html": `{{template "b.html" .}}`,
			"b.html": `{{extends "c.html"}}`, "c.html": ""},
			"a.html", 1, `"b.html" extends "c.html" and so cannot be included`},
		{"escaping: branches end in different contexts", map[string]string{"a.html": "<p>\n{{if .C}}<a href=\"{{else}}<b>{{end}}</p>"},
			"a.html", 2, "{{if}} branches end in different contexts"},
		{"escaping error in a parent, reported once", map[string]string{
			"base.html": "\n{{if .C}}<a href=\"{{else}}<b>{{end}}{{block \"x\" .}}{{end}}",
			"page.html": `{{extends "base.html"}}{{define "x"}}x{{end}}`},
			"base.html", 2, "{{if}} branches end in different contexts"},
		{"escaping: template ends in a non-text context", map[string]string{"a.html": `<script>var x = "{{.X}}`},
			"a.html", 0, "ends in a non-text context"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(Options{Sources: []fs.FS{mapFS(tt.files)}})
			if err == nil {
				t.Fatalf("New succeeded (%d pages), want an error", len(s.Names()))
			}
			msg := err.Error()
			loc := "templates: " + tt.file + ":"
			if tt.line > 0 {
				loc += strconv.Itoa(tt.line) + ": "
			}
			if !strings.Contains(msg, loc) || !strings.Contains(msg, tt.want) {
				t.Errorf("New: %v\nwant %q ... %q", err, loc, tt.want)
			}
			var te *Error
			if !errors.As(err, &te) || te.Name != tt.file || (tt.line > 0 && te.Line != tt.line) {
				t.Errorf("errors.As(*Error) = %+v, want Name %q Line %d", te, tt.file, tt.line)
			}
			if n := strings.Count(msg, "templates: "); n != 1 {
				t.Errorf("%d errors reported, want 1:\n%v", n, err)
			}
		})
	}
}

func TestNewFuncErrors(t *testing.T) {
	src := []fs.FS{mapFS(map[string]string{"a.html": "x"})}
	tests := []struct {
		funcs template.FuncMap
		want  string
	}{
		{template.FuncMap{"bad": 42}, "templates: Funcs: value for bad not a function"},
		{template.FuncMap{"extends": func(string) string { return "" }}, `templates: Funcs: the name "extends" is reserved`},
	}
	for _, tt := range tests {
		_, err := New(Options{Sources: src, Funcs: tt.funcs})
		if err == nil || err.Error() != tt.want {
			t.Errorf("New(Funcs %v) = %v, want %q", tt.funcs, err, tt.want)
		}
	}
}

// Every broken file is reported, not only the first.
func TestNewReportsEveryError(t *testing.T) {
	_, err := New(Options{Sources: []fs.FS{mapFS(map[string]string{
		"a.html": "{{nope1}}", "b.html": "{{nope2}}",
	})}})
	if err == nil || !strings.Contains(err.Error(), "a.html:1:") || !strings.Contains(err.Error(), "b.html:1:") {
		t.Errorf("New = %v, want both a.html and b.html named", err)
	}
}

func TestRenderError(t *testing.T) {
	s := mustNew(t, Options{
		Sources: []fs.FS{mapFS(map[string]string{
			"base.html":        "<html>{{block \"content\" .}}{{end}}</html>",
			"polls/index.html": "{{extends \"base.html\"}}\n{{define \"content\"}}<p>lots of text</p>\n{{fail}}{{end}}",
		})},
		Funcs: template.FuncMap{"fail": func() (string, error) { return "", errors.New("database is down") }},
	})
	var b strings.Builder
	err := s.Render(&b, "polls/index.html", nil)
	if err == nil {
		t.Fatal("Render succeeded, want the error of fail")
	}
	for _, want := range []string{"templates: render polls/index.html:", "polls/index.html:3:", "database is down"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Render error %q does not contain %q", err, want)
		}
	}
	if b.Len() != 0 {
		t.Errorf("Render wrote %q before failing, want nothing", b.String())
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Name: "a.html", Line: 3, Description: "bad"}, "templates: a.html:3: bad"},
		{&Error{Name: "a.html", Description: "bad"}, "templates: a.html: bad"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestNewNilSource(t *testing.T) {
	_, err := New(Options{Sources: []fs.FS{mapFS(nil), nil}})
	if err == nil || err.Error() != "templates: source 1 is nil" {
		t.Errorf("New with a nil source = %v", err)
	}
}

func TestNewMissingFolder(t *testing.T) {
	_, err := New(Options{Sources: []fs.FS{os.DirFS(filepath.Join(t.TempDir(), "nope"))}})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "templates: scan source 0") {
		t.Errorf("New with a missing folder = %v, want a scan error wrapping fs.ErrNotExist", err)
	}
}
