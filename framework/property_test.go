package framework

import (
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// yearConv is a custom converter for the property test: four digits, an int.
type yearConv struct{}

func (yearConv) Match(s string) bool           { return len(s) == 4 && isDigits(s) }
func (yearConv) SegmentOnly()                  {}
func (yearConv) ToValue(s string) (any, error) { return strconv.Atoi(s) }
func (yearConv) ToURL(v any) (string, error) {
	n, ok := v.(int)
	if !ok || n < 0 || n > 9999 {
		return "", fmt.Errorf("not a year: %v", v)
	}
	return fmt.Sprintf("%04d", n), nil
}

// genPattern is a generated route with a generator of argument sets.
type genPattern struct {
	route string
	gen   []func(*rand.Rand) any // one per parameter, in order
}

// randText returns 1..8 random runes, never "/", drawn to include what
// needs percent-encoding: spaces, %, ?, #, non-ASCII, controls.
func randText(rng *rand.Rand, alphabet []rune) string {
	n := 1 + rng.IntN(8)
	var b strings.Builder
	for range n {
		b.WriteRune(alphabet[rng.IntN(len(alphabet))])
	}
	return b.String()
}

var (
	strRunes  = []rune("abcXYZ019 -_.~%?#&+=;:@!$'()*,é✓日本\x00\x7f\"<>\\^`{|}")
	slugRunes = []rune("abcdefXYZ0123456789-_")
	hexRunes  = []rune("0123456789abcdef")
)

func genStr(rng *rand.Rand) any  { return randText(rng, strRunes) }
func genSlug(rng *rand.Rand) any { return randText(rng, slugRunes) }
func genInt(rng *rand.Rand) any  { return rng.IntN(1_000_000_000) }
func genYear(rng *rand.Rand) any { return rng.IntN(10000) }
func genUUID(rng *rand.Rand) any {
	var b strings.Builder
	for i, n := range []int{8, 4, 4, 4, 12} {
		if i > 0 {
			b.WriteByte('-')
		}
		for range n {
			b.WriteRune(hexRunes[rng.IntN(16)])
		}
	}
	return b.String()
}
func genPath(rng *rand.Rand) any {
	segs := make([]string, 1+rng.IntN(3))
	for i := range segs {
		segs[i] = randText(rng, strRunes)
	}
	return strings.Join(segs, "/")
}

// newGenPattern builds a route "p<i>/" followed by 1..4 random segments,
// each a literal, a converter, or a converter inside a segment, and
// sometimes a trailing <path:...>.
func newGenPattern(rng *rand.Rand, i int) genPattern {
	g := genPattern{route: fmt.Sprintf("p%d/", i)}
	param := 0
	next := func() string { param++; return fmt.Sprintf("a%d", param) }
	for range 1 + rng.IntN(4) {
		switch rng.IntN(8) {
		case 0:
			g.route += "lit-" + strconv.Itoa(rng.IntN(100)) + "/"
		case 1:
			g.route += "<int:" + next() + ">/"
			g.gen = append(g.gen, genInt)
		case 2:
			g.route += "<" + next() + ">/" // str by default
			g.gen = append(g.gen, genStr)
		case 3:
			g.route += "<slug:" + next() + ">/"
			g.gen = append(g.gen, genSlug)
		case 4:
			g.route += "<uuid:" + next() + ">/"
			g.gen = append(g.gen, genUUID)
		case 5:
			g.route += "<yyyy:" + next() + ">/"
			g.gen = append(g.gen, genYear)
		case 6:
			g.route += "v<int:" + next() + ">.<str:" + next() + ">/"
			g.gen = append(g.gen, genInt, genStr)
		case 7:
			g.route += "é<yyyy:" + next() + ">-<slug:" + next() + ">/"
			g.gen = append(g.gen, genYear, genSlug)
		}
	}
	if rng.IntN(3) == 0 {
		g.route += "<path:" + next() + ">"
		g.gen = append(g.gen, genPath)
		if rng.IntN(2) == 0 {
			g.route += "/"
		}
	}
	return g
}

// TestReverseThenDispatch checks, over many generated patterns and
// values, that dispatching the URL Reverse builds reaches the same view
// with the same typed values: the converters and the percent-encoding
// round-trip, and the matcher's backtracking agrees with Reverse.
func TestReverseThenDispatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(20260101, 7))
	const apps, patterns, valueSets = 25, 20, 8
	checked := 0
	for range apps {
		gens := make([]genPattern, patterns)
		urls := make([]Pattern, patterns)
		for i := range gens {
			gens[i] = newGenPattern(rng, i)
			urls[i] = Path(gens[i].route, echoView(fmt.Sprintf("view%d", i)), fmt.Sprintf("r%d", i))
		}
		// Nest half of them in an include, so namespaces and prefixes are exercised.
		root := []Pattern{Include("ns/", "ns", urls[:patterns/2]...)}
		root = append(root, urls[patterns/2:]...)
		app := newApp(t, testSettings(), Config{
			URLs: root, Middleware: []Middleware{}, Converters: map[string]Converter{"yyyy": yearConv{}},
		})
		for i, g := range gens {
			name := fmt.Sprintf("r%d", i)
			if i < patterns/2 {
				name = "ns:" + name
			}
			for range valueSets {
				args := make([]any, len(g.gen))
				want := fmt.Sprintf("view%d", i)
				for j, gen := range g.gen {
					args[j] = gen(rng)
					want += fmt.Sprintf(" a%d=%T(%v)", j+1, args[j], args[j])
				}
				u, err := app.Reverse(name, args...)
				if err != nil {
					t.Fatalf("Reverse(%q %q, %q): %v", name, g.route, args, err)
				}
				w := httptest.NewRecorder()
				app.ServeHTTP(w, httptest.NewRequest("GET", u, nil))
				if w.Code != 200 || w.Body.String() != want {
					t.Fatalf("route %q, args %q: Reverse gave %q, dispatch gave %d %q; want %q",
						g.route, args, u, w.Code, w.Body, want)
				}
				checked++
			}
		}
	}
	t.Logf("%d reverse→dispatch round trips", checked)
}
