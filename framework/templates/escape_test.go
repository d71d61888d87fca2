package templates

import "testing"

// xssPages put the same data into each context html/template distinguishes,
// directly, through the filters, and through a child block and an include
// that land in a parent's <script> and attribute.
var xssPages = map[string]string{
	"text.html":   `<p>{{.}}</p>`,
	"attr.html":   `<p title="{{.}}">`,
	"href.html":   `<a href="{{.}}">`,
	"query.html":  `<a href="/s?q={{.}}">`,
	"script.html": `<script>var v = {{.}};</script>`,
	"filters.html": `{{. | upper}}|{{. | default "x"}}|{{. | truncatechars 50}}|` +
		`{{. | linebreaksbr}}|{{. | lower}}|{{. | yesno "{{.}},no"}}`,
	"base.html":  `<script>var v = {{block "v" .}}null{{end}};</script><a href="{{template "_href.html" .}}">`,
	"child.html": `{{extends "base.html"}}{{define "v"}}{{.}}{{end}}`,
	"_href.html": `{{.}}`,
}

func TestXSSPayloadsRenderInert(t *testing.T) {
	s := newSetOf(t, xssPages)
	tests := []struct {
		payload, page, want string
	}{
		{`<script>alert(1)</script>`, "text.html", `<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>`},
		{`<script>alert(1)</script>`, "attr.html", `<p title="&lt;script&gt;alert(1)&lt;/script&gt;">`},
		{`<script>alert(1)</script>`, "href.html", `<a href="%3cscript%3ealert%281%29%3c/script%3e">`},
		{`<script>alert(1)</script>`, "query.html", `<a href="/s?q=%3cscript%3ealert%281%29%3c%2fscript%3e">`},
		{`<script>alert(1)</script>`, "script.html", `<script>var v = "\u003cscript\u003ealert(1)\u003c/script\u003e";</script>`},
		{`<script>alert(1)</script>`, "filters.html", `&lt;SCRIPT&gt;ALERT(1)&lt;/SCRIPT&gt;|&lt;script&gt;alert(1)&lt;/script&gt;|` +
			`&lt;script&gt;alert(1)&lt;/script&gt;|&lt;script&gt;alert(1)&lt;/script&gt;|&lt;script&gt;alert(1)&lt;/script&gt;|{{.}}`},
		{`<script>alert(1)</script>`, "child.html", `<script>var v = "\u003cscript\u003ealert(1)\u003c/script\u003e";</script>` +
			`<a href="%3cscript%3ealert%281%29%3c/script%3e">`},

		{`" onmouseover="x`, "text.html", `<p>&#34; onmouseover=&#34;x</p>`},
		{`" onmouseover="x`, "attr.html", `<p title="&#34; onmouseover=&#34;x">`},
		{`" onmouseover="x`, "href.html", `<a href="%22%20onmouseover=%22x">`},
		{`" onmouseover="x`, "query.html", `<a href="/s?q=%22%20onmouseover%3d%22x">`},
		{`" onmouseover="x`, "script.html", `<script>var v = "\" onmouseover=\"x";</script>`},
		{`" onmouseover="x`, "filters.html", `&#34; ONMOUSEOVER=&#34;X|&#34; onmouseover=&#34;x|&#34; onmouseover=&#34;x|` +
			`&#34; onmouseover=&#34;x|&#34; onmouseover=&#34;x|{{.}}`},

		{`javascript:alert(1)`, "text.html", `<p>javascript:alert(1)</p>`},
		{`javascript:alert(1)`, "attr.html", `<p title="javascript:alert(1)">`},
		{`javascript:alert(1)`, "href.html", `<a href="#ZgotmplZ">`},
		{`javascript:alert(1)`, "query.html", `<a href="/s?q=javascript%3aalert%281%29">`},
		{`javascript:alert(1)`, "script.html", `<script>var v = "javascript:alert(1)";</script>`},
		{`javascript:alert(1)`, "child.html", `<script>var v = "javascript:alert(1)";</script><a href="#ZgotmplZ">`},

		{`</script><script>x</script>`, "text.html", `<p>&lt;/script&gt;&lt;script&gt;x&lt;/script&gt;</p>`},
		{`</script><script>x</script>`, "attr.html", `<p title="&lt;/script&gt;&lt;script&gt;x&lt;/script&gt;">`},
		{`</script><script>x</script>`, "href.html", `<a href="%3c/script%3e%3cscript%3ex%3c/script%3e">`},
		{`</script><script>x</script>`, "query.html", `<a href="/s?q=%3c%2fscript%3e%3cscript%3ex%3c%2fscript%3e">`},
		{`</script><script>x</script>`, "script.html", `<script>var v = "\u003c/script\u003e\u003cscript\u003ex\u003c/script\u003e";</script>`},
		{`</script><script>x</script>`, "child.html", `<script>var v = "\u003c/script\u003e\u003cscript\u003ex\u003c/script\u003e";</script>` +
			`<a href="%3c/script%3e%3cscript%3ex%3c/script%3e">`},
	}
	for _, tt := range tests {
		t.Run(tt.page+"/"+tt.payload, func(t *testing.T) {
			if got := render(t, s, tt.page, tt.payload); got != tt.want {
				t.Errorf("\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// linebreaksbr is the one filter that returns template.HTML: it must escape
// first, and html/template must still treat its result by context.
func TestLinebreaksbrStaysEscaped(t *testing.T) {
	s := newSetOf(t, map[string]string{
		"a.html": `<p>{{. | linebreaksbr}}</p><p title="{{. | linebreaksbr}}"></p><script>var v = {{. | linebreaksbr}};</script>`,
	})
	got := render(t, s, "a.html", "<b>1</b>\r\n\" onload=\"x\n</script>")
	want := `<p>&lt;b&gt;1&lt;/b&gt;<br>&#34; onload=&#34;x<br>&lt;/script&gt;</p>` +
		`<p title="&lt;b&gt;1&lt;/b&gt;&#34; onload=&#34;x&lt;/script&gt;"></p>` +
		`<script>var v = "\u0026lt;b\u0026gt;1\u0026lt;/b\u0026gt;\u003cbr\u003e\u0026#34; onload=\u0026#34;x\u003cbr\u003e\u0026lt;/script\u0026gt;";</script>`
	if got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}
