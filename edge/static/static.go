// Package static is the edge's static file handler: an http.Handler that
// serves a location's directory as nginx does, and never anything outside
// it.
package static

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stack-web/stack/edge/internal/errpage"
)

// Handler serves files below a directory as nginx's static locations do:
// an ETag and Last-Modified on every file, conditional requests, ranges,
// HEAD; never a file outside the root, never a dotfile, never a directory
// listing.
//
// http.FileServer is not enough as it is: it lists directories, serves
// dotfiles, and http.Dir follows symlinks out of the root. Handler opens
// everything through an os.Root, which resolves each path component itself
// and refuses to leave the directory, through symlinks or otherwise.
type Handler struct {
	prefix string
	root   *os.Root
	dir    string
	logger *slog.Logger
	cache  fileCache
	fds    fdCache // descriptors of files too large for cache (fdcache.go)

	precompressed bool // serve X.zst, X.br, X.gz beside X (precompressed.go)
}

// New opens root and returns a handler that maps the part of the URL
// path after prefix to a file below root: with prefix "/static/",
// /static/polls/style.css is <root>/polls/style.css (nginx's alias
// semantics; the configuration calls the directory `root`).
func New(prefix, root string, logger *slog.Logger) (*Handler, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("static root: %w", err)
	}
	return &Handler{prefix: prefix, root: r, dir: root, logger: logger}, nil
}

// Close releases the root directory.
func (s *Handler) Close() error {
	s.fds.close()
	return s.root.Close()
}

func (s *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		errpage.Write(w, http.StatusMethodNotAllowed)
		return
	}
	rel, ok := strings.CutPrefix(r.URL.Path, s.prefix)
	if !ok {
		// "/static" for location "/static/": nginx redirects a directory
		// without its slash.
		if r.URL.Path+"/" == s.prefix {
			redirectSlash(w, r)
			return
		}
		errpage.Write(w, http.StatusNotFound)
		return
	}
	bytesRange(r.Header)
	name, status := s.clean(r, rel)
	if status != 0 {
		s.logger.Debug("edge: static: refused path", "uri", r.RequestURI, "status", status)
		errpage.Write(w, status)
		return
	}
	s.serve(w, r, name, strings.HasSuffix(rel, "/") || rel == "")
}

// clean validates the requested path and returns the file name relative
// to the root ("." for the root itself), or an error status.
func (s *Handler) clean(r *http.Request, rel string) (string, int) {
	// The decoded path has already been normalised by the edge; the raw
	// one is checked too, because an encoded slash (%2F) or backslash
	// decodes into a separator the client did not write as one.
	raw := strings.ToLower(r.URL.EscapedPath())
	if strings.Contains(raw, "%2f") || strings.Contains(raw, "%5c") || strings.Contains(raw, "%00") {
		return "", http.StatusNotFound
	}
	if strings.IndexByte(rel, 0) >= 0 || strings.IndexByte(rel, '\\') >= 0 {
		return "", http.StatusBadRequest
	}
	rel = strings.Trim(rel, "/")
	if rel == "" {
		return ".", 0
	}
	for seg := range strings.SplitSeq(rel, "/") {
		switch {
		case seg == "" || seg == "..":
			return "", http.StatusBadRequest
		case seg[0] == '.':
			return "", http.StatusNotFound // dotfiles and dot-directories: .git, .env, .htpasswd
		}
	}
	return rel, 0
}

// bytesRange drops a Range in a unit other than bytes (RFC 9110 §14.2: a
// server ignores a unit it does not understand, as nginx does) and spells
// the unit as ServeContent reads it ("Bytes=" is "bytes="): ServeContent
// answered 416 to both. A suffix range of length 0 ("-0") is rewritten to
// one starting past any file, which ServeContent finds unsatisfiable: the
// last 0 bytes are no bytes (RFC 9110 §14.1.1), and nginx answers 416, but
// ServeContent answered 206 with an empty body and the impossible
// "Content-Range: bytes SIZE-(SIZE-1)/SIZE".
func bytesRange(h http.Header) {
	v := h["Range"]
	if len(v) == 0 {
		return
	}
	if len(v[0]) < 6 || !strings.EqualFold(v[0][:6], "bytes=") {
		delete(h, "Range")
		delete(h, "If-Range")
		return
	}
	set := v[0][6:]
	if strings.Contains(set, "-0") {
		specs := strings.Split(set, ",")
		for i, spec := range specs {
			if n, ok := strings.CutPrefix(strings.TrimSpace(spec), "-"); ok && n != "" && strings.Trim(n, "0") == "" {
				specs[i] = pastAnyFile
			}
		}
		set = strings.Join(specs, ",")
	}
	if v[0][:6] != "bytes=" || set != v[0][6:] {
		h["Range"] = []string{"bytes=" + set}
	}
}

// pastAnyFile is a range that starts past the end of any file.
const pastAnyFile = "9223372036854775807-"

// open opens name without blocking: a FIFO or device under the root would
// otherwise hang the open (and an OS thread) until a writer appears. The
// caller refuses anything that is not a regular file or a directory.
func (s *Handler) open(name string) (*os.File, error) {
	return s.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

func (s *Handler) serve(w http.ResponseWriter, r *http.Request, name string, trailingSlash bool) {
	now := time.Now()
	if !trailingSlash {
		if cf := s.cache.lookup(name, now); cf != nil {
			serveCached(w, r, name, cf.choose(r))
			return
		}
		if plain(r) {
			if e, f := s.fds.acquire(s, name, now, s.cache.validity()); f != nil {
				if !s.precompressed || s.siblingsOf(name, e.fi, now) == 0 {
					whole := serveOpen(w, r, f, e)
					s.fds.release(e, f)
					if !whole {
						abort(r)
					}
					return
				}
				s.fds.release(e, f) // a sibling appeared: the path below chooses
			}
		}
	}
	f, err := s.open(name)
	if err != nil {
		s.cache.forget(name)
		s.fds.forget(name)
		s.fail(w, r, err)
		return
	}
	kept := false
	defer func(f *os.File) {
		if !kept {
			f.Close()
		}
	}(f)
	fi, err := f.Stat()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if fi.IsDir() {
		if !trailingSlash {
			redirectSlash(w, r)
			return
		}
		index := path.Join(name, "index.html")
		ff, err := s.open(index)
		if err != nil {
			// No index and no listings: nginx answers 403.
			s.logger.Debug("edge: static: directory without index", "uri", r.RequestURI)
			errpage.Write(w, http.StatusForbidden)
			return
		}
		defer ff.Close()
		f, name = ff, index
		if fi, err = f.Stat(); err != nil || fi.IsDir() {
			errpage.Write(w, http.StatusForbidden)
			return
		}
	} else if trailingSlash {
		errpage.Write(w, http.StatusNotFound) // "file.css/" is not a directory
		return
	}
	if !fi.Mode().IsRegular() {
		s.cache.forget(name)
		s.fds.forget(name)
		s.logger.Warn("edge: static: refusing a file that is not a regular file", "uri", r.RequestURI, "root", s.dir, "mode", fi.Mode().String())
		errpage.Write(w, http.StatusForbidden)
		return
	}
	if cf := s.cache.load(name, f, fi, now); cf != nil {
		serveCached(w, r, name, cf.choose(r))
		return
	}
	if s.precompressed && s.serveSibling(w, r, name, f, fi, now) {
		return
	}
	h := w.Header()
	h.Set("ETag", etag(fi))
	// A type already set is an app's, through X-Accel-Redirect; it wins,
	// as nginx's static module sets a type only when none is set.
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" && len(h["Content-Type"]) == 0 {
		h.Set("Content-Type", ct)
	}
	if plain(r) {
		if !serveWhole(w, r, f, fi) { // whole.go
			abort(r) // f is closed by the deferred Close
			return
		}
		if !trailingSlash && fi.Size() > maxCachedFile && (!s.precompressed || s.siblingsOf(name, fi, now) == 0) {
			kept = s.fds.keep(name, f, fi, now)
		}
		return
	}
	// ServeContent does Range, If-Range, If-None-Match, If-Modified-Since
	// and HEAD, and copies with sendfile from the *os.File.
	serveContent(w, r, name, fi.ModTime(), f) // whole.go: aborted if short
}

// etag is nginx's: "<mtime in hex>-<size in hex>".
func etag(fi fs.FileInfo) string {
	return `"` + strconv.FormatInt(fi.ModTime().Unix(), 16) + "-" + strconv.FormatInt(fi.Size(), 16) + `"`
}

func (s *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		errpage.Write(w, http.StatusNotFound)
	case errors.Is(err, fs.ErrPermission):
		s.logger.Warn("edge: static: permission denied", "uri", r.RequestURI, "err", err)
		errpage.Write(w, http.StatusForbidden)
	case errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE):
		// The file may well be there: a 404 would tell caches it is gone.
		s.logger.Error("edge: static: out of file descriptors", "uri", r.RequestURI, "err", err)
		errpage.Write(w, http.StatusServiceUnavailable)
	default:
		// Among others: a symlink that leads out of the root ("path
		// escapes from parent"), which is as good as absent.
		s.logger.Warn("edge: static: cannot serve", "uri", r.RequestURI, "root", s.dir, "err", err)
		errpage.Write(w, http.StatusNotFound)
	}
}

// redirectSlash answers 301 to the same path with a trailing slash.
func redirectSlash(w http.ResponseWriter, r *http.Request) {
	u := r.URL.EscapedPath() + "/"
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", u)
	errpage.Write(w, http.StatusMovedPermanently)
}
