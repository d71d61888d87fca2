package templates

import (
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type memoID int

type memoRow struct {
	ID    int
	Named memoID
	Text  string
	When  time.Time
	Tags  []string // not plain data: computed each time
	Raw   template.HTML
	Ptr   *int
}

// memoSite pipes one value of the data through pure functions and escapers
// in every context: URL, attribute, text, script, style; with variables,
// dot, named types, times, trusted HTML, nil pointers and missing keys.
var memoSite = map[string]string{
	"page.html": `{{range $i, $r := .rows}}<a href="{{link "detail" .ID}}" title="{{.Text | upper}}" data-n="{{.Named | link "n"}}">{{.Text | truncatechars 8}}</a>
<time datetime="{{.When | date "c"}}">{{.When | date "N j, Y, P"}}</time> {{.Tags | length | pluralize}} {{.Raw | lower}} {{.Ptr | default "none" | upper}}
<script>var x = {{.Text | upper}}, i = {{$i | link "i"}};</script><p style="color: {{.Text | lower}}">{{$.missing | default "gone" | upper}}</p>
{{end}}{{with .rows}}{{. | length | pluralize}}{{end}}{{.fail | link "bad"}}`,
}

func memoFuncs(calls *atomic.Int64) template.FuncMap {
	return template.FuncMap{
		"link": func(kind string, v any) (string, error) {
			calls.Add(1)
			if kind == "bad" && v != nil {
				return "", errLink
			}
			return fmt.Sprintf("/%s/%v/?a=1&b=<%v>", kind, v, v), nil
		},
	}
}

var errLink = errors.New("no such link")

func memoData(n int) map[string]any {
	one := 1
	rows := make([]memoRow, n)
	for i := range rows {
		rows[i] = memoRow{ID: i, Named: memoID(i * 7), Text: fmt.Sprintf("Row <%d> & 'q' \"x\" %s", i, strings.Repeat("é", i)),
			When: time.Date(2025, 1, i+1, i, 30, 0, 0, time.FixedZone("X", 3600*(i%3))),
			Tags: make([]string, i%3), Raw: template.HTML(fmt.Sprintf("<b>%d</b>", i))}
		if i%2 == 0 {
			rows[i].Ptr = &one
		}
	}
	return map[string]any{"rows": rows}
}

// A memoized page renders byte for byte what the page renders without any
// pure function (no memo, no folding), on the first render and from its
// cache after, and the functions stop running once the values were seen.
func TestMemoSameOutput(t *testing.T) {
	var plainCalls, memoCalls atomic.Int64
	plain := mustNew(t, Options{Sources: []fs.FS{mapFS(memoSite)}, Funcs: memoFuncs(&plainCalls)})
	// Without Pure the built-in filters are still pure: the reference
	// overrides them with the same functions under the user's name.
	ref := template.FuncMap{}
	for k, v := range Builtins() {
		ref[k] = v
	}
	for k, v := range memoFuncs(&plainCalls) {
		ref[k] = v
	}
	plain = mustNew(t, Options{Sources: []fs.FS{mapFS(memoSite)}, Funcs: ref})
	memo := mustNew(t, Options{Sources: []fs.FS{mapFS(memoSite)}, Funcs: memoFuncs(&memoCalls), Pure: []string{"link"}})
	data := memoData(6)
	want := render(t, plain, "page.html", data)
	for i := range 3 {
		memoCalls.Store(0)
		if got := render(t, memo, "page.html", data); got != want {
			t.Fatalf("render %d memoized:\n%s\nwant:\n%s", i, got, want)
		}
		// Once: .fail is missing, and nil is not kept.
		if i > 0 && memoCalls.Load() != 1 {
			t.Errorf("render %d: link ran %d times; the values were all seen but nil", i, memoCalls.Load())
		}
	}
	if !strings.Contains(want, `href="/detail/3/?a=1&amp;b=%3c3%3e"`) {
		t.Errorf("the reference page is not escaped as expected:\n%s", want)
	}

	// New values, and a value that fails.
	other := memoData(9)
	if got, want := render(t, memo, "page.html", other), render(t, plain, "page.html", other); got != want {
		t.Errorf("new values memoized:\n%s\nwant:\n%s", got, want)
	}
	data["fail"] = 1
	err := memo.Render(&strings.Builder{}, "page.html", data)
	if !errors.Is(err, errLink) {
		t.Errorf("a failing call: %v, want it to wrap %v", err, errLink)
	}
}

// Renders of a memoized page at the same time agree (run with -race).
func TestMemoConcurrent(t *testing.T) {
	var calls atomic.Int64
	s := mustNew(t, Options{Sources: []fs.FS{mapFS(memoSite)}, Funcs: memoFuncs(&calls), Pure: []string{"link"}})
	want := render(t, s, "page.html", memoData(5))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 12 {
				n := 5
				if (g+i)%3 == 0 {
					n = 20 // values not seen yet, evaluated while others read
				}
				got := render(t, s, "page.html", memoData(n))
				if n == 5 && got != want {
					t.Errorf("goroutine %d render %d differs", g, i)
					return
				}
			}
		}()
	}
	wg.Wait()
}
