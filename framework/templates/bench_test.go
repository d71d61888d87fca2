package templates

import (
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchSite is a realistic polls page: a site base with head, navigation
// and footer, and an index page listing questions with links, dates and
// counts through url and the built-in filters.
var benchSite = map[string]string{
	"base.html": `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{block "title" .}}Polls{{end}}</title>
<link rel="stylesheet" href="{{static "polls/style.css"}}">
</head>
<body>
<nav><a href="{{url "polls:index"}}">Home</a> <a href="{{url "polls:about"}}">About</a></nav>
<main>{{block "content" .}}{{end}}</main>
<footer>{{block "footer" .}}Served by stack{{end}}</footer>
</body>
</html>
`,
	"polls/index.html": `{{extends "base.html"}}
{{define "title"}}Latest questions | {{template "title.super" .}}{{end}}
{{define "content"}}
<h1>{{.Heading}}</h1>
{{if .Questions}}
<ul>
{{range .Questions}}{{template "polls/_question.html" .}}{{end}}
</ul>
{{else}}
<p>No polls are available.</p>
{{end}}
{{end}}
`,
	"polls/_question.html": `<li><a href="{{url "polls:detail" .ID}}" title="{{.Text}}">{{.Text | truncatechars 40}}</a>
 <small>{{.PubDate | date "N j, Y, P"}} · {{.Votes}} vote{{.Votes | pluralize}}</small></li>
`,
}

type benchQuestion struct {
	ID      int
	Text    string
	PubDate time.Time
	Votes   int
}

// benchFuncs stands in for the framework's url and static.
var benchFuncs = template.FuncMap{
	"url": func(name string, args ...any) (string, error) {
		switch name {
		case "polls:index":
			return "/polls/", nil
		case "polls:about":
			return "/polls/about/", nil
		case "polls:detail":
			if len(args) == 1 {
				if id, ok := args[0].(int); ok {
					return "/polls/" + strconv.Itoa(id) + "/", nil
				}
			}
		}
		return "", fmt.Errorf("url %q %v: no match", name, args)
	},
	"static": func(p string) string { return "/static/" + p },
}

// benchPure are the functions the framework declares pure.
var benchPure = []string{"url", "static"}

func benchData() map[string]any {
	qs := make([]benchQuestion, 5)
	for i := range qs {
		qs[i] = benchQuestion{
			ID:      i + 1,
			Text:    fmt.Sprintf("What's the best <language> for web tier number %d, and why?", i+1),
			PubDate: time.Date(2025, time.September, i+1, 9+i, 30, 0, 0, time.UTC),
			Votes:   i,
		}
	}
	return map[string]any{"Heading": "Latest questions", "Questions": qs}
}

func newBenchSet(b *testing.B) *Set {
	return mustNew(b, Options{Sources: []fs.FS{mapFS(benchSite)}, Funcs: benchFuncs, Pure: benchPure})
}

// The benchmark page renders what it should: a failing benchmark page would
// measure an error path.
func TestBenchPage(t *testing.T) {
	s := mustNew(t, Options{Sources: []fs.FS{mapFS(benchSite)}, Funcs: benchFuncs, Pure: benchPure})
	out := render(t, s, "polls/index.html", benchData())
	for _, want := range []string{
		"<title>Latest questions | Polls</title>",
		`<a href="/polls/3/" title="What&#39;s the best &lt;language&gt; for web tier number 3, and why?">What&#39;s the best &lt;language&gt; for web tier…</a>`,
		"Sept. 2, 2025, 10:30 a.m. · 1 vote</small>",
		"Sept. 5, 2025, 1:30 p.m. · 4 votes</small>",
		`<link rel="stylesheet" href="/static/polls/style.css">`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("benchmark page lacks %q:\n%s", want, out)
		}
	}
}

func BenchmarkRenderPage(b *testing.B) {
	s := newBenchSet(b)
	data := benchData()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Render(io.Discard, "polls/index.html", data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderPageParallel(b *testing.B) {
	s := newBenchSet(b)
	data := benchData()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Render(io.Discard, "polls/index.html", data); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRenderPageReload is the debug-mode cost: the same page with
// Reload on (a modification-time check at most once a second).
func BenchmarkRenderPageReload(b *testing.B) {
	s := mustNew(b, Options{Sources: []fs.FS{mapFS(benchSite)}, Funcs: benchFuncs, Pure: benchPure, Reload: true})
	data := benchData()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Render(io.Discard, "polls/index.html", data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(Options{Sources: []fs.FS{mapFS(benchSite)}, Funcs: benchFuncs, Pure: benchPure}); err != nil {
			b.Fatal(err)
		}
	}
}
