package templates

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
)

// site is a three-level tree: base.html → polls/base.html → pages.
var site = map[string]string{
	"base.html": `<title>{{block "title" .}}Site{{end}}</title>` +
		`<main>{{block "content" .}}base content{{end}}</main>` +
		`<footer>{{block "footer" .}}base footer{{end}}</footer>`,
	"polls/base.html": `{{/* section base */}}
{{extends "base.html"}}
{{define "title"}}Polls - {{template "title.super" .}}{{end}}
{{define "content"}}<nav>{{block "nav" .}}polls nav{{end}}</nav>{{block "body" .}}section body{{end}}{{end}}`,
	// The page overrides only "body", a block the section introduced;
	// its text outside {{define}} is ignored, as in Django.
	"polls/index.html": `{{extends "polls/base.html"}}ignored{{define "body"}}index of {{.Name}}{{end}}ignored too`,
	"polls/nav.html":   `{{extends "polls/base.html"}}{{define "nav"}}custom nav{{end}}`,
	// .super at every level: the page's title wraps the section's, which wraps the base's.
	"polls/super.html": `{{extends "polls/base.html"}}` +
		`{{define "title"}}{{.Name}} | {{template "title.super" .}}{{end}}` +
		`{{define "footer"}}{{template "footer.super" .}} + page footer{{end}}`,
	// .super from a block the page does not itself override renders the ancestors' block.
	"polls/reuse.html": `{{extends "polls/base.html"}}{{define "body"}}[{{template "nav.super" .}}]{{end}}`,
	"polls/empty.html": `{{extends "polls/base.html"}}{{define "body"}}{{end}}`,
	// {{block}} in a child overrides and opens a new block for its own children.
	"polls/detail.html": `{{extends "polls/base.html"}}{{block "body" .}}detail: {{block "choices" .}}no choices{{end}}{{end}}`,
	"polls/vote.html":   `{{extends "polls/detail.html"}}{{define "choices"}}{{range .Choices}}({{.}}){{end}}{{end}}`,
	"blank.html":        "",
}

func TestInheritance(t *testing.T) {
	s := newSetOf(t, site)
	data := map[string]any{"Name": "Q<1>", "Choices": []string{"a", "b&c"}}
	const (
		baseFooter    = `<footer>base footer</footer>`
		sectionTitle  = `<title>Polls - Site</title>`
		sectionNavRow = `<nav>polls nav</nav>`
	)
	tests := []struct {
		page, want string
	}{
		{"blank.html", ""},
		{"base.html", `<title>Site</title><main>base content</main>` + baseFooter},
		{"polls/base.html", sectionTitle + `<main>` + sectionNavRow + `section body</main>` + baseFooter},
		{"polls/index.html", sectionTitle + `<main>` + sectionNavRow + `index of Q&lt;1&gt;</main>` + baseFooter},
		{"polls/nav.html", sectionTitle + `<main><nav>custom nav</nav>section body</main>` + baseFooter},
		{"polls/super.html", `<title>Q&lt;1&gt; | Polls - Site</title><main>` + sectionNavRow + `section body</main><footer>base footer + page footer</footer>`},
		{"polls/reuse.html", sectionTitle + `<main>` + sectionNavRow + `[polls nav]</main>` + baseFooter},
		{"polls/empty.html", sectionTitle + `<main>` + sectionNavRow + `</main>` + baseFooter},
		{"polls/detail.html", sectionTitle + `<main>` + sectionNavRow + `detail: no choices</main>` + baseFooter},
		{"polls/vote.html", sectionTitle + `<main>` + sectionNavRow + `detail: (a)(b&amp;c)</main>` + baseFooter},
	}
	for _, tt := range tests {
		t.Run(tt.page, func(t *testing.T) {
			if got := render(t, s, tt.page, data); got != tt.want {
				t.Errorf("Render(%q)\n got %s\nwant %s", tt.page, got, tt.want)
			}
		})
	}
}

// A page's blocks must not leak into another page that shares its parent:
// each page is assembled from its own copies of the trees.
func TestPagesDoNotShareBlocks(t *testing.T) {
	s := newSetOf(t, site)
	for range 2 { // twice: the second Render sees whatever the first escaped
		for _, page := range []string{"polls/nav.html", "polls/index.html", "polls/base.html"} {
			got := render(t, s, page, map[string]any{"Name": "x"})
			if page != "polls/nav.html" && strings.Contains(got, "custom nav") {
				t.Errorf("%s shows polls/nav.html's block: %s", page, got)
			}
		}
	}
}

func TestSearchOrder(t *testing.T) {
	project := mapFS(map[string]string{
		"polls/base.html":  `<project>{{block "content" .}}{{end}}</project>`,
		"polls/index.html": `{{extends "polls/base.html"}}{{define "content"}}project index{{end}}`,
	})
	app := mapFS(map[string]string{
		"polls/base.html":   `<app>{{block "content" .}}{{end}}</app>`,
		"polls/index.html":  `{{extends "polls/base.html"}}{{define "content"}}app index{{end}}`,
		"polls/detail.html": `{{extends "polls/base.html"}}{{define "content"}}app detail{{end}}`,
	})
	other := mapFS(map[string]string{
		"polls/detail.html": `other app's detail`,
		"other/page.txt":    `plain {{.}}`,
		"other/notes.md":    `not a template`,
		"other/.#page.html": `an editor's lock file`,
		".git/x.html":       `a hidden folder`,
	})
	s := mustNew(t, Options{Sources: []fs.FS{project, app, other}})
	tests := []struct {
		page, want string
	}{
		{"polls/index.html", `<project>project index</project>`},
		// The app's own page extends the base the project overrides, as in Django.
		{"polls/detail.html", `<project>app detail</project>`},
		{"other/page.txt", `plain x`},
	}
	for _, tt := range tests {
		if got := render(t, s, tt.page, "x"); got != tt.want {
			t.Errorf("Render(%q) = %q, want %q", tt.page, got, tt.want)
		}
	}
	wantNames := []string{"other/page.txt", "polls/base.html", "polls/detail.html", "polls/index.html"}
	if got := s.Names(); !slices.Equal(got, wantNames) {
		t.Errorf("Names() = %q, want %q (no .md, no hidden files)", got, wantNames)
	}
	if !s.Has("polls/detail.html") || s.Has("polls/missing.html") {
		t.Error("Has does not reflect the pages")
	}
	var b strings.Builder
	if err := s.Render(&b, "polls/missing.html", nil); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "polls/missing.html") {
		t.Errorf("Render of a missing page: err = %v, want ErrNotFound naming the page", err)
	}
}

func TestInclude(t *testing.T) {
	s := newSetOf(t, map[string]string{
		"base.html":          `<ul>{{block "list" .}}{{end}}</ul>`,
		"polls/_choice.html": `<li title="{{.Text}}">{{.Text}}: {{template "polls/_votes.html" .Votes}}</li>`,
		"polls/_votes.html":  `{{.}} vote{{. | pluralize}}`,
		"polls/index.html": `{{extends "base.html"}}{{define "list"}}` +
			`{{range .}}{{template "polls/_choice.html" .}}{{end}}{{end}}`,
		// A block of the page wins over a file of the same name.
		"polls/shadow.html": `{{template "polls/_votes.html" 3}}{{define "polls/_votes.html"}}[own {{.}}]{{end}}`,
	})
	type choice struct {
		Text  string
		Votes int
	}
	got := render(t, s, "polls/index.html", []choice{{`Not "much"`, 1}, {"<b>sky</b>", 2}})
	want := `<ul><li title="Not &#34;much&#34;">Not &#34;much&#34;: 1 vote</li>` +
		`<li title="&lt;b&gt;sky&lt;/b&gt;">&lt;b&gt;sky&lt;/b&gt;: 2 votes</li></ul>`
	if got != want {
		t.Errorf("include\n got %s\nwant %s", got, want)
	}
	if got := render(t, s, "polls/shadow.html", nil); got != "[own 3]" {
		t.Errorf("shadowed include = %q, want %q", got, "[own 3]")
	}
}
