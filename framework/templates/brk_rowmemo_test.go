package templates

import (
	"fmt"
	"html/template"
	"io/fs"
	"iter"
	"math"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
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
	fresh := func() any { // a func gives fresh data (a channel) to each render
		if f, ok := data.(func() any); ok {
			return f()
		}
		return data
	}
	want, wantErr := brkPlainA(t, files, funcs, name, fresh())
	for i := range 2 {
		var b strings.Builder
		err := s.Render(&b, name, fresh())
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

type brkInner struct{ Name string }

type brkRowB struct {
	ID   int
	Text string
	When time.Time
	Any  any
	P    *int
	Code brkCode
}

type brkCode string

type brkEmb struct {
	*brkInner
	ID int
}

type brkShadow struct {
	brkRowB
	Text int // shadows brkRowB.Text
}

type brkM struct {
	ID   int
	Text string
}

func (brkM) Name() string { return "method" }

// The row memo and the action memo, against plain html/template, for
// elements of many kinds and the same values in every context.
func TestBrkRowMemoDifferential(t *testing.T) {
	page := `{{range .rows}}<li id="{{.ID}}" title="{{.Text}}" style="color:{{.Text}}" onclick="f({{.Text}})"><a href="/x?q={{.Text}}">{{.Text | upper}}</a><a href="{{.Text}}">u</a>` +
		`{{if .Any}}{{.Any}}{{else}}none{{end}}<script>var w={{.When}}, c={{.Code}};</script>{{.When | date "c"}} {{.When}}</li>{{else}}empty{{end}}`
	files := map[string]string{"p.html": page, "emb.html": `{{range .rows}}[{{.Name}}|{{.ID}}]{{else}}e{{end}}`,
		"sh.html": `{{range .rows}}[{{.Text}}|{{.ID}}]{{end}}`, "m.html": `{{range .rows}}[{{.ID}} {{.Text | lower}}]{{end}}`}
	funcs := template.FuncMap{"noop": func(s string) string { return s }}
	one := 1
	utc := time.Date(2026, 11, 30, 5, 0, 0, 0, time.UTC)
	paris, _ := time.LoadLocation("Europe/Paris")
	fixed := time.FixedZone("X", 3600)
	now := time.Now()
	rows := []brkRowB{
		{1, "a<b>&\"'", utc, nil, nil, "c<"},
		{1, "a<b>&\"'", utc.In(paris), nil, nil, "c<"},
		{1, "a<b>&\"'", utc.In(fixed), 0, &one, "c<"},
		{1, "a<b>&\"'", utc.In(time.FixedZone("X", 3600)), "", nil, "c<"},
		{1, "a<b>&\"'", now, 1.5, nil, "c<"},
		{1, "a<b>&\"'", now.Round(0), math.NaN(), nil, "c<"},
		{1, "a<b>&\"'", now, math.Copysign(0, -1), nil, "c<"},
		{2, "\u2028</script>", utc, []int{1}, nil, "x\u2029"},
		{2, strings.Repeat("z", 300) + "1", utc, map[string]int{"a": 1}, nil, ""},
		{2, strings.Repeat("z", 300) + "2", utc, template.HTML("<b>"), nil, ""},
		{3, "javascript:alert(1)", utc, template.JS("x"), nil, "javascript:"},
		{3, "javascript:alert(1)", utc, template.URL("javascript:y"), nil, "javascript:"},
		{3, "", time.Time{}, true, nil, ""},
		{3, "", time.Time{}, false, nil, ""},
	}
	ptrs := []*brkRowB{&rows[0], nil, &rows[1]}
	anys := []any{rows[0], &rows[0], rows[1], map[string]any{"ID": 1, "Text": "a<b>&\"'", "When": utc}, map[string]any{"ID": 1}, brkM{1, "x"}, 7}
	m := map[string]brkRowB{"b": rows[1], "a": rows[0], "c": rows[0]}
	ch := func() any {
		ch := make(chan brkRowB, 3)
		ch <- rows[0]
		ch <- rows[1]
		ch <- rows[0]
		close(ch)
		return map[string]any{"rows": ch}
	}
	seq := func(yield func(brkRowB) bool) {
		for _, r := range rows {
			if !yield(r) {
				return
			}
		}
	}
	for name, data := range map[string]any{
		"slice": rows, "ptrs": ptrs, "anys": anys, "map": m, "empty": []brkRowB{}, "seq": iter.Seq[brkRowB](seq),
	} {
		t.Run(name, func(t *testing.T) { brkCompareA(t, files, funcs, "p.html", map[string]any{"rows": data}) })
	}
	t.Run("chan", func(t *testing.T) { brkCompareA(t, files, funcs, "p.html", ch) })
	t.Run("int", func(t *testing.T) { brkCompareA(t, files, funcs, "p.html", map[string]any{"rows": 3}) })
	t.Run("embedded", func(t *testing.T) {
		brkCompareA(t, files, funcs, "emb.html", map[string]any{"rows": []brkEmb{{&brkInner{"n"}, 1}, {&brkInner{"m"}, 1}, {nil, 1}}})
	})
	t.Run("shadow", func(t *testing.T) {
		brkCompareA(t, files, funcs, "sh.html", map[string]any{"rows": []any{brkShadow{rows[0], 5}, rows[0], brkShadow{rows[0], 6}}})
	})
	t.Run("method", func(t *testing.T) {
		brkCompareA(t, files, funcs, "m.html", map[string]any{"rows": []any{brkM{1, "A"}, brkM{1, "A"}, map[string]string{"ID": "1", "Text": "A"}}})
	})
}

// The action memo keeps at most maxMemo outputs per action; each may be
// long when a pure function amplifies a short key (a user's markdown of an
// id): what it keeps must be bounded as the row memo's rows are.
func TestBrkMemoOutputBounded(t *testing.T) {
	funcs := template.FuncMap{"big": func(n int) string { return strings.Repeat("x", 64<<10) + strconv.Itoa(n) }}
	s := mustNew(t, Options{Sources: []fs.FS{mapFS(map[string]string{"p.html": `<p>{{big .n}}</p>`})}, Funcs: funcs, Pure: []string{"big"}})
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	const renders = 256 // of maxMemo the memo may keep
	for n := range renders {
		var b strings.Builder
		if err := s.Render(&b, "p.html", map[string]any{"n": n}); err != nil {
			t.Fatal(err)
		}
		if want := "<p>" + strings.Repeat("x", 64<<10) + strconv.Itoa(n) + "</p>"; b.String() != want {
			t.Fatalf("render %d: wrong output", n)
		}
	}
	after := heap()
	runtime.KeepAlive(s)
	t.Logf("heap %d -> %d bytes after %d renders of 64 KiB outputs", before, after, renders)
	if after > before+6<<20 {
		t.Fatalf("the memo keeps %d MiB of outputs", (after-before)>>20)
	}
}

// One Set for the whole fuzz run, so that a row's memo built from earlier
// inputs answers later ones: each render must be plain html/template's.
func FuzzBrkRowMemo(f *testing.F) {
	files := map[string]string{"p.html": `{{range .rows}}<li data-x="{{.Text}}" onclick="f({{.Text}}, {{.ID}})" style="a:{{.Text}}"><a href="?q={{.Text}}&id={{.ID}}">{{.Text | truncatechars 5}}</a>{{if .Any}}[{{.Any}}]{{end}}{{.When | date "N j, Y, P"}}</li>{{end}}`}
	funcs := template.FuncMap{}
	s := mustNew(t0{f}, Options{Sources: []fs.FS{mapFS(files)}})
	f.Add(1, "a<b", uint8(0), int64(0))
	f.Add(-1, "\u2028x", uint8(3), int64(-62135596800))
	f.Add(0, "", uint8(5), int64(1))
	f.Fuzz(func(t *testing.T, id int, text string, kind uint8, sec int64) {
		locs := []*time.Location{time.UTC, time.FixedZone("A", 3600), time.FixedZone("A", -3600), time.FixedZone("", 0)}
		anys := []any{nil, id, text, template.HTML(text), template.JS(text), id != 0, int8(id), text + "!"}
		row := brkRowB{ID: id, Text: text, When: time.Unix(sec, 0).In(locs[int(kind)%len(locs)]), Any: anys[int(kind/4)%len(anys)]}
		data := map[string]any{"rows": []brkRowB{row, row}}
		want, wantErr := brkPlainA(t, files, funcs, "p.html", data)
		var b strings.Builder
		err := s.Render(&b, "p.html", data)
		if (err != nil) != (wantErr != nil) || err == nil && b.String() != want {
			t.Fatalf("%+v:\n got %q %v\nwant %q %v", row, b.String(), err, want, wantErr)
		}
	})
}

// t0 lets mustNew run on a *testing.F.
type t0 struct{ *testing.F }
