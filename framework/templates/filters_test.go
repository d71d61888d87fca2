package templates

import (
	"html/template"
	"io/fs"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestTruncatechars(t *testing.T) {
	tests := []struct {
		n    int
		in   any
		want string
	}{
		{20, "short", "short"},
		{5, "exact", "exact"},
		{5, "exactly", "exac…"},
		{1, "ab", "…"},
		{0, "ab", ""},
		{-3, "ab", ""},
		{4, "héllo wörld", "hél…"},
		{3, "日本語テキスト", "日本…"},
		{2, "🙂🙂🙂", "🙂…"},
		// A cut never leaves a letter without its combining accent: "é" here is e + U+0301.
		{4, "abe\u0301cd", "ab…"},
		{10, nil, ""},
		{3, 12345, "12…"},
		{3, template.HTML("<b>bold</b>"), "<b…"},
	}
	for _, tt := range tests {
		got := truncatechars(tt.n, tt.in)
		if got != tt.want {
			t.Errorf("truncatechars(%d, %q) = %q, want %q", tt.n, tt.in, got, tt.want)
		}
		if tt.n > 0 && len([]rune(got)) > tt.n {
			t.Errorf("truncatechars(%d, %q) = %q: more than %d runes", tt.n, tt.in, got, tt.n)
		}
	}
}

func TestDefault(t *testing.T) {
	type point struct{ X int }
	var nilTime *time.Time
	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in, want any
	}{
		{nil, "none"},
		{"", "none"},
		{"x", "x"},
		{0, "none"},
		{7, 7},
		{0.0, "none"},
		{false, "none"},
		{true, true},
		{[]string{}, "none"},
		{[]int(nil), "none"},
		{[]int{1}, []int{1}},
		{map[string]any{}, "none"},
		{nilTime, "none"},
		{time.Time{}, "none"},
		{now, now},
		{(*point)(nil), "none"},
		{point{}, "none"},
		{uint8(3), uint8(3)},
		{template.HTML(""), "none"},
	}
	for _, tt := range tests {
		got := defaultFilter("none", tt.in)
		if !equalish(got, tt.want) {
			t.Errorf("default(none, %#v) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

// equalish compares the values the filters return, slices by content.
func equalish(a, b any) bool {
	if sa, ok := a.([]int); ok {
		sb, ok := b.([]int)
		return ok && len(sa) == len(sb) && (len(sa) == 0 || sa[0] == sb[0])
	}
	return a == b
}

func TestPluralize(t *testing.T) {
	tests := []struct {
		args []any
		want string
	}{
		{[]any{1}, ""},
		{[]any{0}, "s"},
		{[]any{2}, "s"},
		{[]any{-1}, "s"},
		{[]any{int64(1)}, ""},
		{[]any{uint(1)}, ""},
		{[]any{1.0}, ""},
		{[]any{1.5}, "s"},
		{[]any{"1"}, ""},
		{[]any{"3"}, "s"},
		{[]any{[]string{"a"}}, ""},
		{[]any{[]string{"a", "b"}}, "s"},
		{[]any{map[string]int{}}, "s"},
		{[]any{nil}, ""},
		{[]any{"es", 1}, ""},
		{[]any{"es", 2}, "es"},
		{[]any{"y,ies", 1}, "y"},
		{[]any{"y,ies", 3}, "ies"},
		{[]any{"y,ies", []int{1, 2}}, "ies"},
	}
	for _, tt := range tests {
		got, err := pluralize(tt.args...)
		if err != nil || got != tt.want {
			t.Errorf("pluralize(%v) = %q, %v; want %q", tt.args, got, err, tt.want)
		}
	}
	for _, bad := range [][]any{{}, {"a,b,c", 1}, {3, 1}, {"s", 1, 2}} {
		if _, err := pluralize(bad...); err == nil {
			t.Errorf("pluralize(%v) succeeded, want an error", bad)
		}
	}
}

func TestLinebreaksbr(t *testing.T) {
	tests := []struct {
		in   any
		want template.HTML
	}{
		{"a\nb", "a<br>b"},
		{"a\r\nb\rc", "a<br>b<br>c"},
		{"<i>x</i>\n'&'", "&lt;i&gt;x&lt;/i&gt;<br>&#39;&amp;&#39;"},
		{template.HTML("<i>x</i>\ny"), "<i>x</i><br>y"},
		{nil, ""},
		{42, "42"},
	}
	for _, tt := range tests {
		if got := linebreaksbr(tt.in); got != tt.want {
			t.Errorf("linebreaksbr(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestYesno(t *testing.T) {
	var nilPtr *bool
	yes := true
	tests := []struct {
		args []any
		want string
	}{
		{[]any{true}, "yes"},
		{[]any{false}, "no"},
		{[]any{nil}, "maybe"},
		{[]any{nilPtr}, "maybe"},
		{[]any{&yes}, "yes"},
		{[]any{1}, "yes"},
		{[]any{""}, "no"},
		{[]any{"on,off", true}, "on"},
		{[]any{"on,off", nil}, "off"},
		{[]any{"ja,nein,vielleicht", nil}, "vielleicht"},
		{[]any{"ja,nein,vielleicht", false}, "nein"},
	}
	for _, tt := range tests {
		got, err := yesno(tt.args...)
		if err != nil || got != tt.want {
			t.Errorf("yesno(%v) = %q, %v; want %q", tt.args, got, err, tt.want)
		}
	}
	for _, bad := range [][]any{{}, {"yes", true}, {"a,b,c,d", true}, {1, true}} {
		if _, err := yesno(bad...); err == nil {
			t.Errorf("yesno(%v) succeeded, want an error", bad)
		}
	}
}

func TestLength(t *testing.T) {
	tests := []struct {
		in   any
		want int
	}{
		{nil, 0},
		{"", 0},
		{"héllo", 5},
		{"日本", 2},
		{template.HTML("<b>"), 3},
		{[]string{"a", "b"}, 2},
		{[]int{1, 2, 3}, 3},
		{map[string]int{"a": 1}, 1},
		{[2]int{}, 2},
		{&[3]int{}, 3},
		{42, 0},
	}
	for _, tt := range tests {
		if got := length(tt.in); got != tt.want {
			t.Errorf("length(%#v) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestCase(t *testing.T) {
	tests := []struct {
		fn   func(any) string
		name string
		in   any
		want string
	}{
		{lower, "lower", "HeLLo ÉTÉ", "hello été"},
		// Go maps rune by rune: ß has no one-rune upper case and stays (Python gives "SS").
		{upper, "upper", "straße été", "STRAßE ÉTÉ"},
		{upper, "upper", nil, ""},
		{title, "title", "hello wörld", "Hello Wörld"},
		{title, "title", "HELLO WORLD", "Hello World"},
		{title, "title", "they're 1st-class", "They're 1st-Class"},
		{title, "title", "élan vital", "Élan Vital"},
		// "é" as e + U+0301: the accent does not end the word.
		{title, "title", "e\u0301lan", "E\u0301lan"},
		// ǆ has a title case distinct from its upper case.
		{title, "title", "ǆungla", "ǅungla"},
		{title, "title", "日本語 text", "日本語 Text"},
		{title, "title", "", ""},
		{title, "title", nil, ""},
		{lower, "lower", (*strings.Builder)(nil), ""},
	}
	for _, tt := range tests {
		if got := tt.fn(tt.in); got != tt.want {
			t.Errorf("%s(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

// Through a template, the pipeline passes the value last and the filters
// are escaped by context.
func TestFiltersInTemplates(t *testing.T) {
	s := newSetOf(t, map[string]string{
		"a.html": `{{.Text | truncatechars 8}}|{{.N}} choice{{.N | pluralize}}|{{.One}} entr{{.One | pluralize "y,ies"}}|` +
			`{{.Missing | default "none"}}|{{.B | yesno "on,off"}}|{{.Items | length}}|{{.Text | upper}}|` +
			`{{.Text | title}}|{{.PubDate | date "N j, Y, P"}}|{{.PubDate | date}}|{{.Zero | date}}|{{.Nil | date "Y"}}|` +
			`{{.Multi | linebreaksbr}}`,
	})
	data := map[string]any{
		"Text":    "what's up <doc>?",
		"N":       3,
		"One":     1,
		"B":       true,
		"Items":   []string{"a", "b"},
		"PubDate": time.Date(2025, time.September, 3, 15, 30, 0, 0, time.UTC),
		"Zero":    time.Time{},
		"Nil":     (*time.Time)(nil),
		"Multi":   "a\nb",
	}
	want := `what&#39;s …|3 choices|1 entry|none|on|2|WHAT&#39;S UP &lt;DOC&gt;?|` +
		`What&#39;s Up &lt;Doc&gt;?|Sept. 3, 2025, 3:30 p.m.|Sept. 3, 2025|||a<br>b`
	if got := render(t, s, "a.html", data); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}

func TestBuiltinsNames(t *testing.T) {
	b := Builtins()
	for _, name := range []string{"date", "default", "truncatechars", "pluralize", "linebreaksbr", "yesno", "length", "lower", "upper", "title"} {
		if b[name] == nil {
			t.Errorf("Builtins() lacks %q", name)
		}
	}
	b["date"] = nil // a fresh map each call: callers may change theirs
	if Builtins()["date"] == nil {
		t.Error("Builtins() returns a shared map")
	}
}

// Options.Funcs add to the built-in filters and may replace one.
func TestUserFuncs(t *testing.T) {
	s := mustNew(t, Options{
		Sources: []fs.FS{mapFS(map[string]string{"a.html": `{{url "detail" 3}}|{{"x" | upper}}|{{"X" | lower}}`})},
		Funcs: template.FuncMap{
			"url":   func(name string, id int) string { return "/" + name + "/" + strconv.Itoa(id) + "/" },
			"upper": func(s string) string { return "custom " + s },
		},
	})
	if got, want := render(t, s, "a.html", nil), "/detail/3/|custom x|x"; got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
}
