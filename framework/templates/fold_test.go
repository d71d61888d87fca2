package templates

import (
	"errors"
	"html/template"
	"io/fs"
	"strings"
	"sync/atomic"
	"testing"
)

// foldSite puts constant calls in every escaping context html/template
// has (text, attribute, URL, script, style, RCDATA), inside if, range and
// with, in a base and a child, next to calls that are not constant.
var foldSite = map[string]string{
	"base.html": `<!doctype html><title>{{block "title" .}}{{word "T<i>tle"}}{{end}}</title>
<link href="{{static "a b/c&d.css"}}"><a href="{{link "x"}}?q={{word "a&b c"}}" title='{{word "it's"}}'>{{word "<b>"}}</a>
<script>var s = {{word "</script>"}}, n = {{num 3}};</script><style>p { color: {{word "red"}} }</style>
<textarea>{{word "</textarea>"}}</textarea><p onclick="f({{word "x'y"}})">{{word "1" | word2 "2"}}</p>
{{if .On}}<i>{{word "on" | printf "%s!"}}</i>{{else}}{{word "off"}}{{end}}
{{range .Items}}<li data-x="{{word "static"}}">{{.}} {{word .}}</li>{{end}}
{{with $x := word "v"}}{{$x}}{{end}}{{block "content" .}}{{end}}{{fails "boom"}}`,
	"child.html": `{{extends "base.html"}}{{define "content"}}<em>{{word "child & co"}}</em>{{end}}`,
}

func foldFuncs(calls *atomic.Int64) template.FuncMap {
	return template.FuncMap{
		"word":   func(s string) string { calls.Add(1); return s },
		"word2":  func(a, b string) string { calls.Add(1); return a + b },
		"num":    func(n int) int { calls.Add(1); return n },
		"link":   func(s string) string { calls.Add(1); return "javascript:" + s }, // the URL filter must still refuse it
		"static": func(s string) string { calls.Add(1); return "/static/" + s },
		"fails": func(s string) (string, error) {
			calls.Add(1)
			if s == "boom" {
				return "", errors.New("boom")
			}
			return s, nil
		},
	}
}

// A page with its constant calls folded renders byte for byte what it
// renders without folding, in every context, and the folded calls no longer
// run at render time; a call that fails is not folded and fails the render
// as before.
func TestFoldConstantCalls(t *testing.T) {
	data := map[string]any{"On": true, "Items": []string{"<a>", "b&c"}}
	var plainCalls, foldedCalls atomic.Int64
	pure := []string{"word", "word2", "num", "link", "static", "fails"}
	site := map[string]string{}
	for k, v := range foldSite {
		site[k] = strings.Replace(v, `{{fails "boom"}}`, `{{fails "ok"}}`, 1)
	}
	plain := mustNew(t, Options{Sources: []fs.FS{mapFS(site)}, Funcs: foldFuncs(&plainCalls)})
	folded := mustNew(t, Options{Sources: []fs.FS{mapFS(site)}, Funcs: foldFuncs(&foldedCalls), Pure: pure})
	for _, page := range []string{"base.html", "child.html"} {
		plainCalls.Store(0)
		foldedCalls.Store(0)
		want := render(t, plain, page, data)
		got := render(t, folded, page, data)
		if got != want {
			t.Errorf("%s folded:\n%s\nunfolded:\n%s", page, got, want)
		}
		// Left at render time: word . twice in the range, word "v" (it
		// declares a variable), word "on" (printf is not declared pure)
		// and word "T<i>tle": a template called in another context than
		// HTML text (here the title block, in RCDATA) runs as a copy
		// html/template keeps to itself.
		if n := foldedCalls.Load(); n != 5 {
			t.Errorf("%s: %d calls at render time with folding (of %d without), want 5", page, n, plainCalls.Load())
		}
	}
	if !strings.Contains(render(t, folded, "base.html", data), `href="#ZgotmplZ?q=a%26b%20c"`) {
		t.Error("a folded URL was not filtered and escaped as html/template does")
	}

	var calls atomic.Int64
	s := mustNew(t, Options{Sources: []fs.FS{mapFS(foldSite)}, Funcs: foldFuncs(&calls), Pure: pure})
	err := s.Render(&strings.Builder{}, "base.html", data)
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("a failing constant call: render error %v, want boom", err)
	}
}

// Pure must name functions of the Set.
func TestFoldPureUnknown(t *testing.T) {
	for _, name := range []string{"nosuch", extendsFunc} {
		_, err := New(Options{Sources: []fs.FS{mapFS(foldSite)}, Funcs: template.FuncMap{"word": strings.ToUpper}, Pure: []string{name}})
		if err == nil || !strings.Contains(err.Error(), "Pure") {
			t.Errorf("Pure %q: err %v, want a Pure error", name, err)
		}
	}
}
