package templates

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

// mapFS builds an in-memory source from name → content pairs.
func mapFS(files map[string]string) fstest.MapFS {
	m := make(fstest.MapFS, len(files))
	for name, text := range files {
		m[name] = &fstest.MapFile{Data: []byte(text)}
	}
	return m
}

// mustNew builds a Set or fails the test.
func mustNew(t testing.TB, opts Options) *Set {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// newSetOf builds a Set over one in-memory source.
func newSetOf(t testing.TB, files map[string]string) *Set {
	t.Helper()
	return mustNew(t, Options{Sources: []fs.FS{mapFS(files)}})
}

// render renders page name or fails the test.
func render(t testing.TB, s *Set, name string, data any) string {
	t.Helper()
	var b strings.Builder
	if err := s.Render(&b, name, data); err != nil {
		t.Fatalf("Render(%q): %v", name, err)
	}
	return b.String()
}
