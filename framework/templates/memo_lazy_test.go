package templates

import (
	"html/template"
	"io/fs"
	"strings"
	"sync/atomic"
	"testing"
)

// memoize and memoizeRows make no copy of the page at New: a copy is a
// second assembly and escaping, and a worker builds every page of its app
// before its first answer. The first render that misses makes one; later
// renders reuse it.
func TestMemoCopiesAtFirstMiss(t *testing.T) {
	var calls atomic.Int64
	funcs, err := mergeFuncs(memoFuncs(&calls))
	if err != nil {
		t.Fatal(err)
	}
	src := []fs.FS{mapFS(memoSite)}
	entries, _, err := scan(src, []string{".html"})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*file{}
	for _, e := range entries {
		text, err := fs.ReadFile(src[e.source], e.name)
		if err != nil {
			t.Fatal(err)
		}
		if files[e.name], err = parseFile(e.name, text, funcs); err != nil {
			t.Fatal(err)
		}
	}
	pure := map[string]bool{"link": true, "upper": true, "lower": true, "date": true, "truncatechars": true, "default": true}
	page, err := assemble("page.html", files, funcs)
	if err != nil {
		t.Fatal(err)
	}
	var copies atomic.Int64
	copyPage := func() (*template.Template, error) {
		copies.Add(1)
		return assemble("page.html", files, funcs)
	}
	if err := memoize(page, copyPage, pure, funcs); err != nil {
		t.Fatal(err)
	}
	if err := memoizeRows(page, copyPage, pure); err != nil {
		t.Fatal(err)
	}
	if n := copies.Load(); n != 0 {
		t.Fatalf("memoizing made %d copies of the page before any render; want 0", n)
	}
	data := memoData(4)
	var first strings.Builder
	if err := page.Execute(&first, data); err != nil {
		t.Fatal(err)
	}
	n := copies.Load()
	if n == 0 {
		t.Fatal("the first render computed its memoized pieces without a copy of the page")
	}
	var again strings.Builder
	if err := page.Execute(&again, memoData(7)); err != nil {
		t.Fatal(err)
	}
	if copies.Load() != n {
		t.Errorf("a second render made %d more copies; the first ones are reused", copies.Load()-n)
	}
	if first.Len() == 0 || !strings.Contains(first.String(), "/detail/3/") {
		t.Errorf("first render:\n%s", first.String())
	}
}
