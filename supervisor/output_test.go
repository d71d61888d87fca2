package supervisor

import (
	"bytes"
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
		{"json passes objects through", LineStyle{JSON: true}, "{\"msg\":\"x\"}\nstack: text\n", "{\"msg\":\"x\"}\n[edge] stack: text\n"},
		{"json and colour", LineStyle{JSON: true, Colour: true}, "{}\nz\n", "{}\n\x1b[36m[edge]\x1b[0m z\n"},
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
