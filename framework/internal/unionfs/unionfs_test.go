package unionfs

import (
	"io/fs"
	"testing"
	"testing/fstest"
)

func TestFirstWinsAndDirectoriesMerge(t *testing.T) {
	a := fstest.MapFS{"polls/style.css": {Data: []byte("a")}, "polls/a.js": {Data: []byte("js")}}
	b := fstest.MapFS{"polls/style.css": {Data: []byte("b")}, "admin/base.css": {Data: []byte("adm")}}
	u := FS{a, b}
	if got, err := fs.ReadFile(u, "polls/style.css"); err != nil || string(got) != "a" {
		t.Fatalf("polls/style.css = %q, %v; want the first FS's", got, err)
	}
	if err := fstest.TestFS(u, "polls/style.css", "polls/a.js", "admin/base.css"); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Open("../x"); err == nil {
		t.Fatal("an invalid path opened")
	}
	if err := fstest.TestFS(FS(nil)); err != nil {
		t.Fatalf("an FS of nothing: %v", err)
	}
}
