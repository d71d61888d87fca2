package framework

import (
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/stack-web/stack/framework/internal/urlpath"
)

// staticURL is the template function static: Settings.StaticURL plus the
// path, percent-encoded, as Django's {% static %}.
func staticURL(prefix string) func(string) string {
	return func(name string) string {
		var b strings.Builder
		b.Grow(len(prefix) + len(name))
		b.WriteString(prefix)
		urlpath.EscapePath(&b, strings.TrimPrefix(name, "/"))
		return b.String()
	}
}

// serveStatic serves a file of the merged static folders under the static
// URL, as Django's runserver does in debug. Directories are not listed.
func (a *App) serveStatic(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, FromRequest(r), http.StatusMethodNotAllowed, "", nil, a.settings.Debug)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, a.staticPath)
	clean := path.Clean("/" + name)[1:]
	if clean == "" || clean != name || !fs.ValidPath(clean) {
		writeError(w, FromRequest(r), http.StatusNotFound, "", nil, false)
		return
	}
	f, err := a.static.Open(clean)
	if err != nil {
		writeError(w, FromRequest(r), http.StatusNotFound, "", nil, false)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	rs, ok := f.(io.ReadSeeker)
	if err != nil || fi.IsDir() || !ok {
		writeError(w, FromRequest(r), http.StatusNotFound, "", nil, false)
		return
	}
	mod := fi.ModTime()
	if mod.IsZero() {
		mod = a.started // embed.FS has no times: the process start is the best Last-Modified
	}
	http.ServeContent(w, r, fi.Name(), mod.Truncate(time.Second), rs)
}
