package framework

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"
)

// unionFS merges the static folders of the apps, as Django's
// AppDirectoriesFinder: a name is looked up in each in order and the first
// that has it wins; a directory lists the union of its entries.
type unionFS []fs.FS

var _ fs.ReadDirFS = unionFS(nil)

// Open opens name in the first FS that has it; a directory found there is
// opened as the union of that directory in every FS.
func (u unionFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	for _, f := range u {
		file, err := f.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		fi, err := file.Stat()
		if err != nil {
			file.Close()
			return nil, err
		}
		if !fi.IsDir() {
			return file, nil
		}
		file.Close()
		entries, err := u.ReadDir(name)
		if err != nil {
			return nil, err
		}
		return &unionDir{info: fi, entries: entries}, nil
	}
	if name == "." {
		return &unionDir{info: rootInfo{}}, nil // no app has static files
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// ReadDir lists name's entries in every FS, the first of each name winning,
// sorted by name.
func (u unionFS) ReadDir(name string) ([]fs.DirEntry, error) {
	var out []fs.DirEntry
	seen := map[string]bool{}
	found := false
	for _, f := range u {
		entries, err := fs.ReadDir(f, name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		found = true
		for _, e := range entries {
			if !seen[e.Name()] {
				seen[e.Name()] = true
				out = append(out, e)
			}
		}
	}
	if !found && name != "." {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// rootInfo describes the empty root of a unionFS of nothing.
type rootInfo struct{}

func (rootInfo) Name() string       { return "." }
func (rootInfo) Size() int64        { return 0 }
func (rootInfo) Mode() fs.FileMode  { return fs.ModeDir | 0o555 }
func (rootInfo) ModTime() time.Time { return time.Time{} }
func (rootInfo) IsDir() bool        { return true }
func (rootInfo) Sys() any           { return nil }

// unionDir is an opened directory of a unionFS.
type unionDir struct {
	info    fs.FileInfo
	entries []fs.DirEntry
	off     int
}

func (d *unionDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *unionDir) Close() error               { return nil }
func (d *unionDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.Name(), Err: errors.New("is a directory")}
}

func (d *unionDir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.off += n
	return rest[:n], nil
}

// staticURL is the template function static: Settings.StaticURL plus the
// path, percent-encoded, as Django's {% static %}.
func staticURL(prefix string) func(string) string {
	return func(name string) string {
		var b strings.Builder
		b.Grow(len(prefix) + len(name))
		b.WriteString(prefix)
		escapePath(&b, strings.TrimPrefix(name, "/"))
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
