package templates

import (
	"fmt"
	"html/template"
	"io/fs"
	"strings"
	"testing"
)

// brkPlainA renders name with plain html/template over the same files and
// funcs (every file parsed into one set: no extends in these pages).
func brkPlainA(t *testing.T, files map[string]string, funcs template.FuncMap, name string, data any) (string, error) {
	t.Helper()
	all := Builtins()
	for k, v := range funcs {
		all[k] = v
	}
	root := template.New(name).Funcs(all)
	if _, err := root.Parse(files[name]); err != nil {
		t.Fatal(err)
	}
	for n, text := range files {
		if n == name {
			continue
		}
		if _, err := root.New(n).Parse(text); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	err := root.ExecuteTemplate(&b, name, data)
	return b.String(), err
}

// brkCompareA renders name through a Set (funcs pure) and plain
// html/template, twice (a miss, then the memo's hit), and wants the same.
func brkCompareA(t *testing.T, files map[string]string, funcs template.FuncMap, name string, data any) {
	t.Helper()
	var pure []string
	for k := range funcs {
		pure = append(pure, k)
	}
	s := mustNew(t, Options{Sources: []fs.FS{mapFS(files)}, Funcs: funcs, Pure: pure})
	want, wantErr := brkPlainA(t, files, funcs, name, data)
	for i := range 2 {
		var b strings.Builder
		err := s.Render(&b, name, data)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("render %d: err %v, html/template's %v", i, err, wantErr)
		}
		if err == nil && b.String() != want {
			t.Fatalf("render %d:\n got %q\nwant %q", i, b.String(), want)
		}
	}
}

type brkStatusA int

// String has a pointer receiver: text/template calls it on an addressable
// value (a slice element's field) passed where a fmt.Stringer is wanted.
func (s *brkStatusA) String() string { return fmt.Sprintf("status-%d", int(*s)) }

type brkRowA struct {
	ID int
	S  brkStatusA
}

// A pure function whose parameter a field or an element meets only by its
// address: html/template takes the address of the addressable range
// element; the memo's copy, given the value, must not fail the render.
func TestBrkMemoAddressableArgs(t *testing.T) {
	funcs := template.FuncMap{
		"lbl": func(s fmt.Stringer) string { return "<" + s.String() + ">" },
		"ptr": func(r *brkRowA) string { return fmt.Sprintf("row %d", r.ID) },
	}
	data := map[string]any{"rows": []brkRowA{{1, 2}, {3, 4}, {1, 2}}}
	brkCompareA(t, map[string]string{"p.html": `{{range .rows}}<i>{{lbl .S}}</i>{{end}}`}, funcs, "p.html", data)
	brkCompareA(t, map[string]string{"p.html": `{{range .rows}}<i>{{ptr .}}</i>{{end}}`}, funcs, "p.html", data)
	brkCompareA(t, map[string]string{"p.html": `{{range .rows}}<a title="{{lbl .S}}">{{.ID}}</a>{{end}}`}, funcs, "p.html", data)
}
