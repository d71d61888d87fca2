package urlpath

import (
	"strings"
	"testing"
)

func compile(t *testing.T, route string, mount bool) *Route {
	t.Helper()
	parts, err := Parse(route, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &Route{Parts: parts, NParams: Count(parts), Pattern: route, Mount: mount}
}

func TestMatchConvertBuild(t *testing.T) {
	r := compile(t, "polls/<int:question_id>/<slug:s>/", false)
	ps := make([]Param, r.NParams)
	if _, ok := r.Match("polls/12/a-b/", ps); !ok || !r.Convert(ps) {
		t.Fatal("no match")
	}
	if Int(ps, "question_id") != 12 || ps[1].Value() != "a-b" {
		t.Fatalf("params %+v", ps)
	}
	for _, bad := range []string{"polls/x/a/", "polls/12/a", "polls/12/a/b/", "polls/99999999999999999999/a/"} {
		if _, ok := r.Match(bad, ps); ok && r.Convert(ps) {
			t.Errorf("%q matched", bad)
		}
	}
	if u, err := r.Build([]any{5, "x y"}, nil); err == nil {
		t.Errorf("Build = %q: \"x y\" is no slug", u)
	}
	if u, err := r.Build(nil, Kwargs{"question_id": 5, "s": "ok"}); err != nil || u != "/polls/5/ok/" {
		t.Errorf("Build kwargs = %q, %v", u, err)
	}
	if _, err := r.Build([]any{5}, nil); err == nil {
		t.Error("Build with one argument of two succeeded")
	}
}

func TestMountReturnsTheRest(t *testing.T) {
	r := compile(t, "api/", true)
	rest, ok := r.Match("api/items/1", nil)
	if !ok || rest != "items/1" {
		t.Fatalf("rest %q %v", rest, ok)
	}
	if k, ok := r.FirstSegment(); !ok || k != "api" {
		t.Fatalf("first segment %q %v", k, ok)
	}
}

func TestBacktrackingAndEscaping(t *testing.T) {
	r := compile(t, "<path:p>/edit/", false)
	ps := make([]Param, 1)
	if _, ok := r.Match("a/edit/b/edit/", ps); !ok || ps[0].Raw != "a/edit/b" {
		t.Fatalf("%+v", ps)
	}
	if u, err := r.Build([]any{"/evil.example"}, nil); err != nil || !strings.HasPrefix(u, "/%2F") {
		t.Fatalf("Build = %q, %v: a leading // must not leave the site", u, err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, route := range []string{"/x/", "<int:a", "a>/", "<bogus:a>/", "<int:1a>/", "<int: a>/"} {
		if _, err := Parse(route, nil, 0); err == nil {
			t.Errorf("Parse(%q) succeeded", route)
		}
	}
	parts, _ := Parse("<a>/<a>/", nil, 0)
	if DuplicateParam(parts) != "a" {
		t.Error("duplicate not found")
	}
	r := compile(t, "<int:n>/", false)
	if _, err := r.Build([]any{"x"}, nil); err == nil {
		t.Error("a non-number filled <int:n>")
	}
}
