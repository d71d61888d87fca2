package templates

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tree is a folder of template files whose modification times only go
// forward, a second per write, so that every write is seen as a change
// whatever the file system's timestamp granularity.
type tree struct {
	t     *testing.T
	dir   string
	clock time.Time
	mu    sync.Mutex
}

func newTree(t *testing.T, files map[string]string) *tree {
	tr := &tree{t: t, dir: t.TempDir(), clock: time.Now().Add(-time.Hour)}
	for name, text := range files {
		tr.write(name, text)
	}
	return tr
}

func (tr *tree) write(name, text string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	p := filepath.Join(tr.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tr.t.Error(err)
		return
	}
	// Write a hidden temporary file, then rename it over the old one, as
	// editors do, so that a reader never sees a half-written file.
	tmp := filepath.Join(filepath.Dir(p), ".tmp-"+filepath.Base(p))
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		tr.t.Error(err)
		return
	}
	tr.clock = tr.clock.Add(time.Second)
	if err := os.Chtimes(tmp, tr.clock, tr.clock); err != nil {
		tr.t.Error(err)
		return
	}
	if err := os.Rename(tmp, p); err != nil {
		tr.t.Error(err)
	}
}

func (tr *tree) remove(name string) {
	if err := os.Remove(filepath.Join(tr.dir, filepath.FromSlash(name))); err != nil {
		tr.t.Fatal(err)
	}
}

// checkAlways makes a reloading Set look at its files on every Render
// instead of at most once a second, so that tests need not wait.
func checkAlways(s *Set) {
	s.checkEvery = 0
	s.nextCheck.Store(0)
}

// eventually polls Render until ok accepts its result, or fails after 5s.
func eventually(t *testing.T, s *Set, page string, what string, ok func(out string, err error) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var b strings.Builder
		err := s.Render(&b, page, "x")
		if ok(b.String(), err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 5s, %s still renders %q, %v; want %s", page, b.String(), err, what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestReload(t *testing.T) {
	tr := newTree(t, map[string]string{
		"base.html":       `<b>{{block "c" .}}{{end}}</b>`,
		"polls/page.html": `{{extends "base.html"}}{{define "c"}}v1 {{.}}{{end}}`,
	})
	s := mustNew(t, Options{Sources: []fs.FS{os.DirFS(tr.dir)}, Reload: true})
	checkAlways(s)
	renders := func(want string) func(string, error) bool {
		return func(out string, err error) bool { return err == nil && out == want }
	}
	if got := render(t, s, "polls/page.html", "x"); got != "<b>v1 x</b>" {
		t.Fatalf("first render = %q", got)
	}

	tr.write("polls/page.html", `{{extends "base.html"}}{{define "c"}}v2 {{.}}{{end}}`)
	eventually(t, s, "polls/page.html", "the changed page", renders("<b>v2 x</b>"))

	tr.write("base.html", `<i>{{block "c" .}}{{end}}</i>`)
	eventually(t, s, "polls/page.html", "the changed parent", renders("<i>v2 x</i>"))

	tr.write("polls/new.html", `new`)
	eventually(t, s, "polls/new.html", "a new file", renders("new"))

	tr.write("polls/page.html", "{{extends \"base.html\"}}\n{{define \"c\"}}{{frobnicate}}{{end}}")
	eventually(t, s, "polls/page.html", "the error", func(out string, err error) bool {
		var te *Error
		return err != nil && errors.As(err, &te) && te.Name == "polls/page.html" && te.Line == 2 && out == ""
	})

	tr.write("polls/page.html", `{{extends "base.html"}}{{define "c"}}v3 {{.}}{{end}}`)
	eventually(t, s, "polls/page.html", "the fixed page", renders("<i>v3 x</i>"))

	tr.remove("polls/new.html")
	eventually(t, s, "polls/page.html", "a page still", renders("<i>v3 x</i>"))
	if s.Has("polls/new.html") {
		t.Error("Has reports a removed file")
	}
}

func TestNoReloadWithoutOption(t *testing.T) {
	tr := newTree(t, map[string]string{"a.html": "v1"})
	s := mustNew(t, Options{Sources: []fs.FS{os.DirFS(tr.dir)}})
	checkAlways(s) // even so, Reload off means never look
	tr.write("a.html", "v2")
	for range 3 {
		if got := render(t, s, "a.html", nil); got != "v1" {
			t.Fatalf("Render = %q after a change with Reload off, want v1", got)
		}
	}
}

// Many goroutines render several pages with their own data; under -race.
func TestConcurrentRender(t *testing.T) {
	s := newSetOf(t, site)
	pages := []string{"polls/index.html", "polls/super.html", "polls/vote.html", "polls/nav.html"}
	data := func(g, i int) map[string]any {
		return map[string]any{"Name": fmt.Sprintf("g%d<%d>", g, i), "Choices": []string{"a", fmt.Sprint(i)}}
	}
	// What each goroutine's renders must give, computed one at a time first.
	const goroutines, renders = 8, 200
	want := make([][]string, goroutines)
	for g := range goroutines {
		for i := range renders {
			want[g] = append(want[g], render(t, s, pages[(g+i)%len(pages)], data(g, i)))
		}
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range renders {
				page := pages[(g+i)%len(pages)]
				var b strings.Builder
				if err := s.Render(&b, page, data(g, i)); err != nil {
					t.Errorf("Render(%s): %v", page, err)
					return
				}
				if b.String() != want[g][i] {
					t.Errorf("Render(%s) concurrently = %q, alone = %q", page, b.String(), want[g][i])
					return
				}
			}
		})
	}
	wg.Wait()
	if !strings.Contains(want[1][3], "g1&lt;3&gt;") { // polls/index.html
		t.Errorf("the pages do not show their data: %q", want[1][3])
	}
}

// Renders keep working, each seeing one whole version, while a writer
// changes a file and Reload swaps the pages.
func TestConcurrentRenderDuringReload(t *testing.T) {
	v := func(n int) string {
		return fmt.Sprintf(`{{extends "base.html"}}{{define "c"}}v%d {{.}}{{end}}`, n)
	}
	tr := newTree(t, map[string]string{"base.html": `<b>{{block "c" .}}{{end}}</b>`, "page.html": v(0)})
	s := mustNew(t, Options{Sources: []fs.FS{os.DirFS(tr.dir)}, Reload: true})
	checkAlways(s)

	var done atomic.Bool
	var writer sync.WaitGroup
	writer.Go(func() {
		deadline := time.Now().Add(5 * time.Second) // bound the loop even if readers hang
		for n := 1; !done.Load() && time.Now().Before(deadline); n++ {
			tr.write("page.html", v(n%2))
		}
	})
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for range 300 {
				var b strings.Builder
				if err := s.Render(&b, "page.html", "x"); err != nil {
					t.Errorf("Render during reload: %v", err)
					return
				}
				if got := b.String(); got != "<b>v0 x</b>" && got != "<b>v1 x</b>" {
					t.Errorf("Render during reload = %q, want one whole version", got)
					return
				}
			}
		})
	}
	readers.Wait()
	done.Store(true)
	writer.Wait()
}

// A failing writer's error is returned, naming the page.
func TestRenderWriteError(t *testing.T) {
	s := newSetOf(t, map[string]string{"a.html": "hello"})
	err := s.Render(failWriter{}, "a.html", nil)
	if !errors.Is(err, errDiskFull) || !strings.Contains(err.Error(), "render a.html: write") {
		t.Errorf("Render to a failing writer: %v", err)
	}
}

var errDiskFull = errors.New("disk full")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errDiskFull }
