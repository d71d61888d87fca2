package static

import (
	"io"
	"io/fs"
	"maps"
	"mime"
	"net/http"
	"os"
	"path"
	"strconv"
	"time"

	"github.com/stack-web/stack/edge/compress"
)

// Precompressed files (nginx's gzip_static, Caddy's precompressed): a
// static location answers a request for X with X.zst, X.br or X.gz from
// beside it when the client accepts that coding, with Content-Encoding,
// Vary: Accept-Encoding, X's Content-Type, and an ETag of its own (the
// sibling's, marked with its coding, so it never equals X's). Ranges apply
// to the compressed bytes, as nginx serves a .gz; large siblings go out by
// sendfile like any file.
//
// A sibling is used only beside an X that exists and is a regular file (a
// lone X.gz is served only as itself, under its own name), and only while
// it is not older than X: a sibling left behind after X changed is stale,
// and X is served instead. `stack collectstatic --compress` writes the
// siblings with X's time.
//
// Every answer about X, compressed or not, carries Vary: Accept-Encoding
// while X has a usable sibling.

// siblingCodings are the codings looked for, in the order they are
// preferred at equal q (compress.Negotiate's).
var siblingCodings = [...]compress.Coding{compress.Zstd, compress.Brotli, compress.Gzip}

// siblingLoader returns the cached variants of a small file.
type siblingLoader func(name string, orig fs.FileInfo, contentType string, old []*cachedFile) []*cachedFile

// SetPrecompressed turns precompressed siblings on or off; it is called
// before the handler serves.
func (s *Handler) SetPrecompressed(on bool) {
	s.precompressed = on
	s.cache.siblings = nil
	if on {
		s.cache.siblings = s.loadSiblings
	}
}

// usable reports whether sibling vfi may stand for the file fi.
func usable(vfi, fi fs.FileInfo) bool {
	return vfi.Mode().IsRegular() && !vfi.ModTime().Before(fi.ModTime())
}

// siblingETag is the sibling's own ETag marked with its coding:
// "<mtime>-<size>-gzip".
func siblingETag(vfi fs.FileInfo, c compress.Coding) string {
	e := etag(vfi)
	return e[:len(e)-1] + "-" + c.String() + `"`
}

// loadSiblings reads the usable siblings of the cached file name into
// variants, reusing the old ones that did not change.
func (s *Handler) loadSiblings(name string, orig fs.FileInfo, contentType string, old []*cachedFile) []*cachedFile {
	var out []*cachedFile
	for _, c := range siblingCodings {
		// Open, then stat what was opened: a sibling renamed into place
		// between a stat by name and the open would otherwise be read
		// for the old one's size, and a longer new one served cut.
		f, err := s.open(name + c.Ext())
		if err != nil {
			continue
		}
		vfi, err := f.Stat()
		if err != nil || !usable(vfi, orig) || vfi.Size() > maxCachedFile {
			f.Close()
			continue
		}
		tag := siblingETag(vfi, c)
		if v := findVariant(old, c); v != nil && v.header["Etag"][0] == tag && v.modTime.Equal(orig.ModTime()) {
			f.Close()
			out = append(out, v)
			continue
		}
		data := make([]byte, vfi.Size())
		_, err = io.ReadFull(f, data)
		f.Close()
		if err != nil {
			continue // it changed under the read; the next check retries
		}
		out = append(out, &cachedFile{data: data, modTime: orig.ModTime(), coding: c, header: http.Header{
			"Etag":             {tag},
			"Last-Modified":    {orig.ModTime().UTC().Format(http.TimeFormat)},
			"Content-Length":   {strconv.Itoa(len(data))},
			"Content-Type":     {contentType},
			"Content-Encoding": {c.String()},
			"Vary":             {"Accept-Encoding"},
			"Accept-Ranges":    {"bytes"},
		}})
	}
	return out
}

func findVariant(vs []*cachedFile, c compress.Coding) *cachedFile {
	for _, v := range vs {
		if v.coding == c {
			return v
		}
	}
	return nil
}

// attachVariants gives f (not yet shared) its precompressed variants, and
// Vary on its own header while it has any.
func (c *fileCache) attachVariants(name string, fi fs.FileInfo, f *cachedFile) {
	if c.siblings == nil {
		return
	}
	f.variants = c.siblings(name, fi, f.header["Content-Type"][0], f.variants)
	if _, vary := f.header["Vary"]; vary != (len(f.variants) > 0) {
		h := maps.Clone(f.header) // the old header may be in use by a response
		if len(f.variants) > 0 {
			h["Vary"] = []string{"Accept-Encoding"}
		} else {
			delete(h, "Vary")
		}
		f.header = h
	}
}

// choose returns the variant of f that r's Accept-Encoding prefers, or f.
func (f *cachedFile) choose(r *http.Request) *cachedFile {
	if len(f.variants) == 0 {
		return f
	}
	var offered compress.Set
	for _, v := range f.variants {
		offered |= compress.Of(v.coding)
	}
	if c := compress.Negotiate(r.Header["Accept-Encoding"], offered); c != compress.Identity {
		return findVariant(f.variants, c)
	}
	return f
}

// size is what f takes in the cache, its variants included.
func (f *cachedFile) size() int {
	n := len(f.data) + entryOverhead
	for _, v := range f.variants {
		n += len(v.data)
	}
	return n
}

// serveSibling answers r for the uncached file name (open as f) with its
// preferred sibling, and reports whether it did. With siblings present but
// none accepted, it adds Vary for the identity answer that follows.
func (s *Handler) serveSibling(w http.ResponseWriter, r *http.Request, name string, f *os.File, fi fs.FileInfo, now time.Time) bool {
	offered := s.siblingsOf(name, fi, now)
	if offered == 0 {
		return false
	}
	h := w.Header()
	compress.AddVary(h)
	c := compress.Negotiate(r.Header["Accept-Encoding"], offered)
	if c == compress.Identity {
		return false
	}
	vf, err := s.open(name + c.Ext())
	if err != nil {
		return false
	}
	defer vf.Close()
	vfi, err := vf.Stat()
	if err != nil || !usable(vfi, fi) {
		return false
	}
	// X's type (unless an app's, through X-Accel-Redirect): by its
	// extension, else sniffed from X's first bytes (ServeContent would
	// sniff the compressed ones).
	if len(h["Content-Type"]) == 0 {
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			var head [512]byte
			n, _ := f.ReadAt(head[:], 0)
			ct = http.DetectContentType(head[:n])
		}
		h.Set("Content-Type", ct)
	}
	h.Set("ETag", siblingETag(vfi, c))
	serveContent(&encodedWriter{ResponseWriter: w, coding: []string{c.String()}}, r, name, fi.ModTime(), vf)
	return true
}

// encodedWriter adds Content-Encoding to a precompressed file's 200 or
// 206 as ServeContent writes it. Set before, it would make ServeContent
// leave out the Content-Length (it takes such a body for one compressed
// on the fly), and the file would go out chunked.
type encodedWriter struct {
	http.ResponseWriter
	coding []string
}

func (w *encodedWriter) WriteHeader(code int) {
	if code == http.StatusOK || code == http.StatusPartialContent {
		w.Header()["Content-Encoding"] = w.coding
	}
	w.ResponseWriter.WriteHeader(code)
}

// ReadFrom keeps sendfile: ServeContent copies the file through it.
func (w *encodedWriter) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
}

func (w *encodedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// siblingSet records which usable siblings a file too large for the cache
// has, so that serving it does not cost three lookups every time; it is
// trusted as a cache entry is, and counts as one against the cache's
// bound.
type siblingSet struct {
	offered compress.Set
	modTime time.Time // the original's, when checked
	size    int64
	checked time.Time
}

// siblingsOf returns the codings of fi's usable siblings.
func (s *Handler) siblingsOf(name string, fi fs.FileInfo, now time.Time) compress.Set {
	c := &s.cache
	c.mu.RLock()
	e, ok := c.sets[name]
	c.mu.RUnlock()
	if ok && now.Sub(e.checked) < c.validity() && e.modTime.Equal(fi.ModTime()) && e.size == fi.Size() {
		return e.offered
	}
	var offered compress.Set
	for _, cd := range siblingCodings {
		if vfi, err := s.root.Stat(name + cd.Ext()); err == nil && usable(vfi, fi) {
			offered |= compress.Of(cd)
		}
	}
	limit := c.limit()
	c.mu.Lock()
	if _, had := c.sets[name]; had || c.bytes+entryOverhead <= limit {
		if c.sets == nil {
			c.sets = make(map[string]siblingSet)
		}
		if !had {
			c.bytes += entryOverhead
		}
		c.sets[name] = siblingSet{offered: offered, modTime: fi.ModTime(), size: fi.Size(), checked: now}
	}
	c.mu.Unlock()
	return offered
}
