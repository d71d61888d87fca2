package supervisor

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestLineWriterStyles(t *testing.T) {
	for _, c := range []struct {
		name  string
		style LineStyle
		in    string
		want  string
	}{
		{"plain", LineStyle{}, "a\nb", "[edge] a\n[edge] b\n"},
		{"colour", LineStyle{Colour: true}, "a\n", "\x1b[36m[edge]\x1b[0m a\n"},
		{"json passes objects through, named", LineStyle{JSON: true}, "{\"msg\":\"x\"}\nstack: text\n", "{\"child\":\"edge\",\"msg\":\"x\"}\n[edge] stack: text\n"},
		{"json and colour", LineStyle{JSON: true, Colour: true}, "{}\nz\n", "{\"child\":\"edge\"}\n\x1b[36m[edge]\x1b[0m z\n"},
		{"json, an empty object with space", LineStyle{JSON: true}, "{ }\n", "{\"child\":\"edge\" }\n"},
	} {
		var out bytes.Buffer
		w := NewLineWriter(&out, "edge", c.style)
		for _, chunk := range strings.SplitAfter(c.in, "b") { // lines arrive in pieces
			w.Write([]byte(chunk))
		}
		w.Close()
		if out.String() != c.want {
			t.Errorf("%s: %q, want %q", c.name, out.String(), c.want)
		}
	}
}

// Each name keeps its colour; the tiers have their own, and no name gets
// red (it reads as an error) or the reset.
func TestColour(t *testing.T) {
	if Colour("edge") == Colour("appserver") {
		t.Error("the tiers share a colour")
	}
	for _, name := range []string{"worker", "release", "django", "celery", "x"} {
		c := Colour(name)
		if c != Colour(name) || !strings.HasPrefix(c, "\x1b[") || c == "\x1b[31m" || c == "\x1b[91m" || c == colourReset {
			t.Errorf("Colour(%q) = %q", name, c)
		}
	}
}

// With log_format: json each child's record stays one JSON object, named
// by the child: two edge processes log the same tier.
func TestJSONLinesNameTheChild(t *testing.T) {
	var out bytes.Buffer
	w := NewLineWriter(&out, "edge-2", LineStyle{JSON: true})
	slog.New(slog.NewJSONHandler(w, nil)).Info("edge stopped", "tier", "edge")
	w.Close()
	var rec map[string]any
	if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out.Bytes())
	}
	if rec["child"] != "edge-2" || rec["msg"] != "edge stopped" || rec["tier"] != "edge" {
		t.Fatalf("record %v, want child edge-2 with the child's own members", rec)
	}
}
