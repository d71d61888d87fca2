package compress

import (
	"net/http"
	"testing"
)

// Which 304s get the weak ETag: those answering a request that named the
// weak form of their strong ETag and not the strong one.
func TestNotModifiedETag(t *testing.T) {
	for _, c := range []struct {
		etag, inm, want string
	}{
		{`"x"`, `W/"x"`, `W/"x"`},
		{`"x"`, `"a", W/"x"`, `W/"x"`},
		{`"x,y"`, `W/"a,b" , W/"x,y"`, `W/"x,y"`},
		{`"x"`, `"x"`, `"x"`},
		{`"x"`, `W/"x", "x"`, `"x"`},
		{`"x"`, `*`, `"x"`},
		{`"x"`, `W/"xy"`, `"x"`},
		{`"x"`, ``, `"x"`},
		{`W/"x"`, `W/"x"`, `W/"x"`},
	} {
		hdr := http.Header{"Etag": {c.etag}}
		var inm []string
		if c.inm != "" {
			inm = []string{c.inm}
		}
		notModified(hdr, inm)
		if got := hdr.Get("Etag"); got != c.want {
			t.Errorf("ETag %s, If-None-Match %s: %s, want %s", c.etag, c.inm, got, c.want)
		}
	}
}
