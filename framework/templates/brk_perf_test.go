package templates

import (
	"fmt"
	"html/template"
	"io/fs"
	"strings"
	"testing"
	"time"
)

// Differential tests of the fold and the memo against the same pages with
// no pure function (html/template alone): every value in every context must
// render byte for byte alike, first render and from the cache.

// brkSite puts one value of the data, .V, in every context html/template
// escapes for, piped through pure functions (the memo) or through its own
// escapers only (an href's three escapers are memoized too), in a base and
// a child, and through a template called from two contexts.
var brkSite = map[string]string{
	"base.html": `<!doctype html><title>{{.V | lower}}|{{block "title" .}}{{.V | upper}}{{end}}</title>
<a href="{{.V}}" title="{{.V | upper}}" data-x={{.V | lower}} class='{{.V | show}}'>{{.V | show}}</a>
<a href="/p?q={{.V}}&r={{.V | show}}#{{.V}}" src="{{.V | show}}" srcset="{{.V}} 2x">{{.V | truncatechars 9}}</a>
<img src={{.V}} alt={{.V | default "none"}}><iframe srcdoc="{{.V | show}}"></iframe>
<script>var a = {{.V | show}}, b = "{{.V | show}}", c = '{{.V}}x'; /* {{.V | show}} */</script>
<script type="text/template">{{.V | show}}</script><script type="application/json">{{.V | show}}</script>
<style>p { color: {{.V | show}}; background: url({{.V | show}}) } a[title="{{.V | show}}"] {}</style>
<p style="color: {{.V | lower}}" onclick="f({{.V | show}}, '{{.V | show}}')" onmouseover={{.V | show}}>{{.V | yesno "y,n,m"}}</p>
<textarea>{{.V | show}}</textarea><!-- {{.V | show}} -->{{.V | linebreaksbr}}
<{{.V | show}} {{.V | show}}="1">{{template "part" .V}}<a href="{{template "part" .V}}">{{with .V}}{{. | title}}{{end}}</a>
{{range $i, $v := .L}}{{$v | show}}{{$i | show}}<b title="{{$v | upper}}">{{$ | printf "%T" | show}}</b>{{end}}
{{block "content" .}}{{end}}{{define "part"}}{{. | show}}{{end}}`,
	"child.html":  `{{extends "base.html"}}{{define "content"}}<em data-v="{{.V | show}}">{{.V | show | upper}}</em>{{end}}`,
	"date.html":   `<time datetime="{{.V | date "c"}}">{{.V | date "N j, Y, P e O"}}</time><a href="/{{.V | date "Y/m/d"}}">`,
	"length.html": `<a href="{{.V | length}}">{{.V | length | pluralize}}</a><script>n={{.V | length}}</script>`,
	"plural.html": `{{.V | pluralize}}<a title="{{.V | pluralize "y,ies"}}">`,
	"one.html":    `<a href="{{link .V}}">{{.V | link}}</a><script>x={{.V | link}}</script>`,
	// Rows memoized whole (rowmemo.go): the value as a field of each element.
	"rows.html": `{{range .R}}<a href="{{.V}}" title="{{.V | show}}" data-l="{{link .V}}">{{.V | show}}</a>{{if .V}}y{{else}}n{{end}}<script>x={{.V | show}}</script>{{.V}}{{end}}
<ul>{{range .R}}{{template "rowpart.html" .}}{{end}}</ul>`,
	"rowpart.html": `<li title="{{.V | show}}"><a href="/r/{{.V}}">{{.V | upper}}</a><script>y={{.V}}</script></li>`,
}

// brkRow is an element of a memoized range.
type brkRow struct{ V any }

// brkFuncs are the app's functions: show is a pure identity, so that the
// value itself reaches every escaper, link makes a URL of it.
func brkFuncs() template.FuncMap {
	return template.FuncMap{
		"show": func(v any) any { return v },
		"link": func(v any) string { return fmt.Sprintf("/l/%v", v) },
	}
}

// brkSets builds the reference (the built-ins overridden under the app's
// name: nothing pure, nothing folded or memoized) and the memoized set.
func brkSets(t testing.TB) (plain, memo *Set) {
	ref := Builtins()
	for k, v := range brkFuncs() {
		ref[k] = v
	}
	plain = mustNew(t, Options{Sources: []fs.FS{mapFS(brkSite)}, Funcs: ref})
	memo = mustNew(t, Options{Sources: []fs.FS{mapFS(brkSite)}, Funcs: brkFuncs(), Pure: []string{"show", "link"}})
	return plain, memo
}

type brkStringer string

func (s brkStringer) String() string { return "<S>" + string(s) + "</S>" }

type brkErr int

func (e brkErr) Error() string { return fmt.Sprintf("err<%d>", int(e)) }

type brkStruct struct{ A string }

// brkValues turns a fuzzed string and kind into the value under test.
func brkValue(s string, kind uint8) any {
	switch kind % 18 {
	case 0:
		return s
	case 1:
		return template.HTML(s)
	case 2:
		return template.URL(s)
	case 3:
		return template.JS(s)
	case 4:
		return template.CSS(s)
	case 5:
		return template.HTMLAttr(s)
	case 6:
		return template.JSStr(s)
	case 7:
		return template.Srcset(s)
	case 8:
		return len(s) - 3
	case 9:
		return len(s)%2 == 0
	case 10:
		return nil
	case 11:
		return &s
	case 12:
		return brkStringer(s)
	case 13:
		return brkErr(len(s))
	case 14:
		return brkStruct{s}
	case 15:
		return time.Date(2026, 11, 30, len(s)%24, 5, 0, 0, time.FixedZone(s, 3600*(len(s)%5)))
	case 16:
		return uint8(len(s))
	default:
		return []byte(s)
	}
}

var brkSeeds = []string{
	"", "x", `<script>alert(1)</script>`, `"'><img src=x onerror=alert(1)>`, "javascript:alert(1)",
	"JaVaScRiPt:alert(1)", " javascript:alert(1)", "data:text/html,<b>", "vbscript:x", "/a b?c=d&e=f#g",
	"</script><script>alert(1)</script>", "</style><b>", "expression(alert(1))", "-->", "<!--", "${x}`",
	"é\u2028\u2029\x00\ufeff😀", "a\nb\r\nc", "`${alert(1)}`", "&amp;&lt;", strings.Repeat("<a'\"&", 60),
	strings.Repeat("x", 256), strings.Repeat("y", 257), "red; background: url(javascript:x)", "\\", "0", "1",
	"http://example.com/?a=1&b=<2>", "//evil.example", "mailto:a@b", "#frag", "a,b,c", "True",
}

// brkRender renders page with data, output and error as one string.
func brkRender(s *Set, page string, data any) string {
	var b strings.Builder
	if err := s.Render(&b, page, data); err != nil {
		// The memo's evaluator names its own copy in errors: compare
		// that both failed, not the message.
		return "error"
	}
	return b.String()
}

func brkCheck(t *testing.T, plain, memo *Set, s string, kind uint8) {
	v := brkValue(s, kind)
	data := map[string]any{"V": v, "L": []any{v, s, brkValue(s, kind+1)}, "R": []brkRow{{v}, {s}, {brkValue(s, kind+1)}}}
	for _, page := range []string{"base.html", "child.html", "one.html", "date.html", "length.html", "plural.html", "rows.html"} {
		want := brkRender(plain, page, data)
		for i := range 2 { // the first render fills the memo, the second reads it
			if got := brkRender(memo, page, data); got != want {
				t.Fatalf("%s, value %#v (%T), render %d:\n got %q\nwant %q", page, v, v, i, got, want)
			}
		}
	}
}

func TestBrkPerfMemoDifferential(t *testing.T) {
	plain, memo := brkSets(t)
	// Every kind of value with six of the seeds, a different six for each
	// kind (all of them with all kinds is slow under -race); the fuzz
	// target's seeds add each seed once.
	for _, s := range brkSeeds[2:5] { // one string as every type in turn: the key must keep the type
		for kind := range uint8(18) {
			brkCheck(t, plain, memo, s, kind)
		}
	}
	for kind := range 18 {
		for j := range 6 {
			brkCheck(t, plain, memo, brkSeeds[(kind*6+j)%len(brkSeeds)], uint8(kind))
		}
	}
}

func FuzzBrkPerfMemo(f *testing.F) {
	for i, s := range brkSeeds {
		f.Add(s, uint8(i))
	}
	plain, memo := brkSets(f)
	f.Fuzz(func(t *testing.T, s string, kind uint8) {
		brkCheck(t, plain, memo, s, kind)
	})
}

// The differential test means something only if the memo is at work on
// brkSite: its page must make far fewer calls of show once values are seen.
func TestBrkPerfMemoActive(t *testing.T) {
	var calls int
	funcs := brkFuncs()
	funcs["show"] = func(v any) any { calls++; return v }
	memo := mustNew(t, Options{Sources: []fs.FS{mapFS(brkSite)}, Funcs: funcs, Pure: []string{"show", "link"}})
	data := map[string]any{"V": "v", "L": []any{"a"}}
	brkRender(memo, "child.html", data)
	calls = 0
	out := brkRender(memo, "child.html", data)
	t.Logf("show calls on a second render: %d\n%s", calls, out)
	if calls > 3 {
		t.Errorf("show ran %d times on a second render: the memo is not at work", calls)
	}
}

// brkUser is an id whose text is looked up each time it is printed, as a
// type with a String method may: the escapers call String on every render.
type brkUser int

var brkNames = map[brkUser]string{1: "alice"}

func (u brkUser) String() string { return brkNames[u] }

// A value whose type has methods (String, Error, MarshalJSON...) is not
// plain data: its text is the method's, which the memo cannot know is
// pure. A memoized action must print what the method says now.
func TestBrkPerfMemoStringerNotKept(t *testing.T) {
	_, memo := brkSets(t)
	data := map[string]any{"V": brkUser(1)}
	if got := brkRender(memo, "one.html", data); !strings.Contains(got, "/l/alice") {
		t.Fatalf("first render: %q", got)
	}
	brkNames[1] = "bob"
	t.Cleanup(func() { brkNames[1] = "alice" })
	if got := brkRender(memo, "one.html", data); !strings.Contains(got, "/l/bob") || strings.Contains(got, "alice") {
		t.Fatalf("after the name changed the page still shows the old one: %q", got)
	}
}

// Goroutines rendering distinct values, more than a memo keeps, so that
// the cache starts over while others read and fill it (run with -race):
// every render is still the reference's.
func TestBrkPerfMemoEvictionConcurrent(t *testing.T) {
	plain, memo := brkSets(t)
	const goroutines, each = 8, 300 // 2,400 values > maxMemo
	errs := make(chan string, goroutines)
	for g := range goroutines {
		go func() {
			for i := range each {
				v := any(g*each + i)
				if i%3 == 1 {
					v = fmt.Sprintf("<%d>'\"", g*each+i)
				}
				data := map[string]any{"V": v}
				if got, want := brkRender(memo, "one.html", data), brkRender(plain, "one.html", data); got != want {
					errs <- fmt.Sprintf("value %#v: got %q want %q", v, got, want)
					return
				}
			}
			errs <- ""
		}()
	}
	for range goroutines {
		if e := <-errs; e != "" {
			t.Fatal(e)
		}
	}
}

// brkTextSeeds are page sources for FuzzBrkPerfMemoText: contexts, blocks,
// includes, variables, ranges and constant calls mixed.
var brkTextSeeds = []string{
	`<a href="{{.V}}">{{.V | upper}}</a>`,
	`{{range $i, $v := .L}}<p title="{{$v | show}}" onclick="f({{$i | show}})">{{link $v}}</p>{{else}}{{show "none"}}{{end}}`,
	`<script>var x = {{.V | show}}; var y = "{{link "c"}}"; // {{.V}}
</script><style>a{color:{{.V | lower}}}</style>`,
	`{{define "t"}}<b>{{. | show}}</b>{{end}}{{template "t" .V}}<a href="{{template "t" .V}}">{{block "b" .}}{{.V | upper}}{{end}}</a>`,
	`{{with $x := .V}}{{$x | show}}{{$.V | upper}}{{end}}{{if .V}}<i class={{.V | show}}>{{end}}`,
	`<textarea>{{show "</textarea>"}}{{.V | show}}</textarea><title>{{.V | show}}</title><!--{{.V}}-->`,
	`<a href="{{show "javascript:x"}}" style="{{show "x:expression(1)"}}">{{"lit" | show | upper}}</a>`,
	"<script>var t = `${ {{.V | show}} }`;</script>",
	`<img srcset="{{.V | show}} 1x, {{link .V}} 2x" {{.V | show}}>`,
}

// Fuzzing the page source: whatever html/template accepts, the memoized
// and folded set accepts too and renders alike.
func FuzzBrkPerfMemoText(f *testing.F) {
	for _, s := range brkTextSeeds {
		f.Add(s, "x<y>'\"&")
	}
	f.Fuzz(func(t *testing.T, src, v string) {
		brkCheckText(t, src, v)
	})
}

func brkCheckText(t *testing.T, src, v string) {
	site := map[string]string{"p.html": src}
	ref := Builtins()
	for k, fn := range brkFuncs() {
		ref[k] = fn
	}
	plain, err := New(Options{Sources: []fs.FS{mapFS(site)}, Funcs: ref})
	if err != nil {
		return // html/template refuses it: nothing to compare
	}
	memo, err := New(Options{Sources: []fs.FS{mapFS(site)}, Funcs: brkFuncs(), Pure: []string{"show", "link"}})
	if err != nil {
		t.Fatalf("html/template accepts %q, the memoized set refuses it: %v", src, err)
	}
	for _, val := range []any{v, template.HTML(v), len(v), nil} {
		data := map[string]any{"V": val, "L": []any{val, v}}
		want := brkRender(plain, "p.html", data)
		for i := range 2 {
			if got := brkRender(memo, "p.html", data); got != want {
				t.Fatalf("page %q, value %#v, render %d:\n got %q\nwant %q", src, val, i, got, want)
			}
		}
	}
}

func TestBrkPerfMemoTextSeeds(t *testing.T) {
	for _, s := range brkTextSeeds {
		brkCheckText(t, s, `<script>alert("1")</script>`)
	}
}

// An app's function named like html/template's escapers would be taken for
// one (pure: folded at New, its first result served for ever), and one
// named like the memo's would be replaced by it: both names are refused.
func TestBrkPerfReservedFuncPrefixes(t *testing.T) {
	for _, name := range []string{"_html_template_now", "_stack_memo_0"} {
		_, err := New(Options{Sources: []fs.FS{mapFS(map[string]string{"p.html": `{{` + name + ` "x"}}{{.V | upper}}`})},
			Funcs: template.FuncMap{name: func(s string) string { return time.Now().String() }}})
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "reserved") {
			t.Errorf("Funcs %q: %v, want it refused as reserved", name, err)
		}
	}
}
