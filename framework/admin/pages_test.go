package admin

import "testing"

// New leaves the pages unparsed (a worker that never serves the admin
// never pays for them), and every page parses, with the name it is
// executed by, on first use.
func TestAdminPagesParse(t *testing.T) {
	s := New(nil, nil, Options{})
	if s.pages != nil {
		t.Fatal("New parsed the pages")
	}
	for _, name := range pageNames {
		p := s.page(name)
		if p == nil || p.Lookup("base.html") == nil {
			t.Errorf("page %s: not parsed with base.html", name)
		}
	}
}
