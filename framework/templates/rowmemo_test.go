package templates

import (
	"fmt"
	"html/template"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"
)

// rowSite has ranges whose bodies depend on their element's fields only
// (memoized per row) in every context, and ranges that must not be: with
// variables, $, a nested range, a method call.
var rowSite = map[string]string{
	"rows.html": `{{range .rows}}<li><a href="{{link "detail" .ID}}" title="{{.Text}}">{{.Text | truncatechars 8}}</a>{{if .On}} on{{else}} off{{end}}
<time datetime="{{.When | date "c"}}">{{.When | date "N j, Y, P"}}</time><script>x={{.Text}}</script><p style="color: {{.Text | lower}}">{{.Raw}}</p>{{.Any}}</li>
{{else}}<p>none</p>{{end}}{{range .rows}}{{.ID}}{{$.title}}{{end}}{{range $i, $r := .rows}}{{$i}}{{.ID}}{{end}}
<ul>{{range .rows}}{{template "row.html" .}}{{end}}</ul><p title="{{range .rows}}{{template "attr.html" .}}{{end}}">{{range .rows}}{{template "self.html" .}}{{end}}</p>`,
	// Included with dot from a row: part of the row.
	"row.html":   `<li><a href="{{link "row" .ID}}">{{.Text | upper}}</a>{{template "inner.html" .}}</li>`,
	"inner.html": `{{if .On}}<b>{{.When | date "c"}}</b>{{end}}`,
	// Included from an attribute: html/template escapes a copy of its own
	// for that context, which is not in the page's set: left alone.
	"attr.html": `{{.Text}} {{.ID}};`,
	// Included from itself: a cycle is not a row.
	"self.html": `{{.ID}}{{if false}}{{template "self.html" .}}{{end}}`,
}

type rowT struct {
	ID   int
	Text string
	On   bool
	When time.Time
	Raw  template.HTML
	Any  any
}

// rowM has a method named like a field the body uses: text/template calls
// the method, so its rows are never memoized.
type rowM struct {
	ID   int
	Text string
	On   bool
	When time.Time
	Raw  template.HTML
	Any  any
	n    *int
}

func (r rowM) ID2() int { return r.ID }

type rowMethod struct{ rowT }

func (r *rowMethod) Text() string { return fmt.Sprintf("method %d", r.ID) }

// rowMap is a map with a method named like a field the body uses.
type rowMap map[string]any

func (m rowMap) Text() string { return "method" }

type rowEmbedded struct {
	*rowT
}

type rowSlice struct {
	rowT
	Any []int // not plain data: never a key
}

func rowFuncs(calls *int, mu *sync.Mutex) template.FuncMap {
	return template.FuncMap{"link": func(kind string, v any) string {
		mu.Lock()
		*calls++
		mu.Unlock()
		return fmt.Sprintf("/%s/%v/?a=<%v>", kind, v, v)
	}}
}

func rowSets(t testing.TB, calls *int, mu *sync.Mutex) (plain, memo *Set) {
	ref := Builtins()
	for k, v := range rowFuncs(calls, mu) {
		ref[k] = v
	}
	plain = mustNew(t, Options{Sources: []fs.FS{mapFS(rowSite)}, Funcs: ref})
	memo = mustNew(t, Options{Sources: []fs.FS{mapFS(rowSite)}, Funcs: rowFuncs(calls, mu), Pure: []string{"link"}})
	return plain, memo
}

func rowData(n int) []rowT {
	rows := make([]rowT, n)
	for i := range rows {
		rows[i] = rowT{ID: i, Text: fmt.Sprintf("Row <%d> & 'q' \"x\" %s", i, strings.Repeat("é", i)), On: i%2 == 0,
			When: time.Date(2025, 1, i+1, i, 30, 0, 0, time.FixedZone("X", 3600*(i%3))),
			Raw:  template.HTML(fmt.Sprintf("<b>%d</b>", i)), Any: []any{i, "s<", nil, template.HTML("<i>"), 1.5, true}[i%6]}
	}
	return rows
}

// A page whose ranges are memoized per row renders byte for byte what the
// page renders with nothing pure, for every kind of element, on the first
// render and from the cache, and fails where it fails.
func TestRowMemoSameOutput(t *testing.T) {
	var calls int
	var mu sync.Mutex
	plain, memo := rowSets(t, &calls, &mu)
	rows := rowData(7)
	ptrs := make([]*rowT, len(rows))
	for i := range rows {
		ptrs[i] = &rows[i]
	}
	var ms []rowMethod
	var ems []rowEmbedded
	var ss []rowSlice
	var mms []rowM
	for i, r := range rows {
		ms = append(ms, rowMethod{r})
		ems = append(ems, rowEmbedded{&rows[i]})
		ss = append(ss, rowSlice{rowT: r, Any: []int{i}})
		mms = append(mms, rowM{ID: r.ID, Text: r.Text, On: r.On, When: r.When, Raw: r.Raw, Any: r.Any})
	}
	cases := map[string]any{
		"structs":         rows,
		"pointers":        ptrs,
		"a nil pointer":   []*rowT{ptrs[0], nil},
		"mixed":           []any{rows[1], ptrs[2], map[string]any{"ID": 9, "Text": "map", "On": true, "When": rows[0].When}, rows[3]},
		"an int":          []any{rows[1], 5},
		"a method":        ms,
		"embedded":        ems,
		"embedded nil":    []rowEmbedded{ems[0], {}},
		"a slice field":   ss,
		"another type":    mms,
		"an array":        [2]rowT{rows[4], rows[5]},
		"a map of rows":   map[string]rowT{"b": rows[2], "a": rows[1]},
		"none":            []rowT{},
		"missing":         nil,
		"strings as rows": []string{"a", "b"},
		"maps": []map[string]any{
			{"ID": 1, "Text": "a <b>", "On": true, "When": rows[1].When, "Raw": template.HTML("<i>x</i>"), "Any": 2},
			{"ID": 2, "Text": nil}, // missing entries, and a nil one
			{"ID": 1, "Text": "a <b>", "On": true, "When": rows[1].When, "Raw": template.HTML("<i>x</i>"), "Any": 2},
			{"ID": "1", "Text": "a <b>", "On": "true", "When": "then", "Raw": "<i>x</i>", "Any": 2.0}, // the same text, other types
			{},
			nil,
		},
		"string maps":   []map[string]string{{"ID": "1", "Text": "<x>", "On": ""}, {"ID": "1"}, {"ID": "1", "Text": "<x>", "On": ""}},
		"any-keyed map": []map[any]any{{"ID": 1, "Text": "k"}, {1: 2}},
		"int-keyed map": []map[int]string{{1: "a"}},
		"a map method":  []rowMap{{"ID": 1, "Text": "m"}},
		"map pointers":  []*map[string]any{{"ID": 3, "Text": "p"}},
	}
	for name, rs := range cases {
		data := map[string]any{"rows": rs, "title": "<T>"}
		want := brkRender(plain, "rows.html", data)
		for i := range 3 {
			if got := brkRender(memo, "rows.html", data); got != want {
				t.Fatalf("%s, render %d:\n got %q\nwant %q", name, i, got, want)
			}
		}
		if name == "structs" && !strings.Contains(want, `href="/detail/3/?a=%3c3%3e"`) {
			t.Errorf("the reference page is not escaped as expected:\n%s", want)
		}
	}
	// The rows are memoized: a second render of the same rows calls link
	// only for the two ranges that are not.
	data := map[string]any{"rows": rows, "title": "t"}
	brkRender(memo, "rows.html", data)
	calls = 0
	brkRender(memo, "rows.html", data)
	if calls != 0 {
		t.Errorf("link ran %d times on a second render of the same rows: the row memo is not at work", calls)
	}
	// Rows of maps too.
	maps := map[string]any{"rows": []map[string]any{{"ID": 1, "Text": "a", "On": true, "When": rows[0].When}, {"ID": 2}}}
	brkRender(memo, "rows.html", maps)
	calls = 0
	brkRender(memo, "rows.html", maps)
	if calls != 0 {
		t.Errorf("link ran %d times on a second render of the same map rows", calls)
	}
	// A row that changed renders anew.
	changed := rowData(7)
	changed[3].Text = "changed <3>"
	if got, want := brkRender(memo, "rows.html", map[string]any{"rows": changed}), brkRender(plain, "rows.html", map[string]any{"rows": changed}); got != want || !strings.Contains(got, "changed &lt;3&gt;") {
		t.Errorf("a changed row:\n got %q\nwant %q", got, want)
	}
}

// Renders of a row-memoized page at the same time agree (run with -race),
// while new rows are evaluated and the cache starts over.
func TestRowMemoConcurrent(t *testing.T) {
	var calls int
	var mu sync.Mutex
	plain, memo := rowSets(t, &calls, &mu)
	want := brkRender(plain, "rows.html", map[string]any{"rows": rowData(5)})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 15 {
				rows := rowData(5)
				if (g+i)%3 == 0 {
					for j := range rows {
						rows[j].ID += 1000 * (g*20 + i) // new rows
					}
				}
				got := brkRender(memo, "rows.html", map[string]any{"rows": rows})
				if rows[0].ID == 0 && got != want {
					t.Errorf("goroutine %d render %d differs", g, i)
					return
				}
			}
		})
	}
	wg.Wait()
}
