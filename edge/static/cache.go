package static

import (
	"bytes"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"strconv"
	"sync"
	"time"

	"github.com/stack-web/stack/edge/compress"
)

// fileCache holds small files in memory, as nginx's open_file_cache holds
// their descriptors: serving one from disk costs an open per path
// component (os.Root resolves each one itself), a stat, a read and a
// close; from here it costs none, and its header is made once.
//
// An entry is trusted for cacheValid after it was last checked against the
// disk (nginx's open_file_cache_valid), then re-checked with a stat and
// re-read if its size or time changed, so a replaced file is served within
// that time. Only regular files up to maxCachedFile are kept, up to
// maxCacheBytes in all; the rest are served from disk as before.
//
// When the cache is full, entries not served for cacheInactive (nginx's
// open_file_cache inactive) make room for new ones; the sweep runs at most
// once per validity period, so a cache full of files in use costs a miss
// nothing more.
//
// Every entry counts entryOverhead besides its content: an empty file
// costs an entry all the same, and symbolic links inside the root (a
// link to "." makes a/a/a/… name one file in endless ways) would
// otherwise let requests add entries without bound.
type fileCache struct {
	valid    time.Duration         // 0: cacheValid (tests shorten it)
	maxBytes int                   // 0: maxCacheBytes (tests shrink it)
	siblings siblingLoader         // nil: no precompressed variants (precompressed.go)
	sets     map[string]siblingSet // which siblings a file served from disk has (precompressed.go)
	mu       sync.RWMutex
	files    map[string]*cachedFile
	bytes    int
	swept    time.Time // the last sweep for room (makeRoom)
}

const (
	cacheValid    = time.Second
	maxCachedFile = 64 << 10
	maxCacheBytes = 32 << 20
	cacheInactive = 20 * time.Second
	entryOverhead = 1 << 10 // about what an entry's name, header and map slot take
)

// cachedFile is a file's content and the header lines made from it.
type cachedFile struct {
	data    []byte
	modTime time.Time
	checked time.Time
	header  http.Header // ETag, Last-Modified, Content-Type, Content-Length, Accept-Ranges

	// Precompressed siblings (precompressed.go): the variants of a file,
	// and the coding of a variant.
	variants []*cachedFile
	coding   compress.Coding
}

// lookup returns name's entry while it is fresh.
func (c *fileCache) lookup(name string, now time.Time) *cachedFile {
	c.mu.RLock()
	f := c.files[name]
	c.mu.RUnlock()
	if f == nil || now.Sub(f.checked) >= c.validity() {
		return nil
	}
	return f
}

// load reads the open regular file f (named name, described by fi) into a
// new entry when it is small enough and the cache has room, and returns it;
// nil means serve from disk.
func (c *fileCache) load(name string, f *os.File, fi fs.FileInfo, now time.Time) *cachedFile {
	size := fi.Size()
	if size > maxCachedFile {
		return nil
	}
	c.mu.RLock()
	old := c.files[name]
	limit := c.limit()
	room := c.bytes+int(size)+entryOverhead <= limit
	c.mu.RUnlock()
	if old != nil && old.modTime.Equal(fi.ModTime()) && int64(len(old.data)) == size {
		// Unchanged: trust it for another while.
		fresh := *old
		fresh.checked = now
		c.attachVariants(name, fi, &fresh)
		c.store(name, &fresh)
		return &fresh
	}
	if !room && old == nil && !c.makeRoom(int(size)+entryOverhead, limit, now) {
		return nil
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil // it changed under the read: serve it from disk this time
	}
	h := http.Header{
		"Etag":           {etag(fi)},
		"Last-Modified":  {fi.ModTime().UTC().Format(http.TimeFormat)},
		"Content-Length": {strconv.FormatInt(size, 10)},
		"Accept-Ranges":  {"bytes"}, // as ServeContent (and nginx) say of any file
	}
	// The type ServeContent gives the same file from disk: by extension,
	// else sniffed from its first bytes.
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = http.DetectContentType(data)
	}
	h["Content-Type"] = []string{ct}
	cf := &cachedFile{data: data, modTime: fi.ModTime(), checked: now, header: h}
	c.attachVariants(name, fi, cf)
	c.store(name, cf)
	return cf
}

// store puts f in the cache as name, unless it is new and the cache has
// no room for it (loads running together each saw room for theirs).
func (c *fileCache) store(name string, f *cachedFile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.files == nil {
		c.files = make(map[string]*cachedFile)
	}
	old := c.files[name]
	if old == nil && c.bytes+f.size() > c.limit() {
		return
	}
	if old != nil {
		c.bytes -= old.size()
	}
	c.files[name] = f
	c.bytes += f.size()
}

func (c *fileCache) limit() int {
	if c.maxBytes == 0 {
		return maxCacheBytes
	}
	return c.maxBytes
}

// makeRoom drops the entries not served for cacheInactive, unless it did
// within the validity period, and reports whether need bytes fit then.
func (c *fileCache) makeRoom(need, limit int, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.swept) >= c.validity() {
		c.swept = now
		for name, f := range c.files {
			if now.Sub(f.checked) >= cacheInactive {
				c.bytes -= f.size()
				delete(c.files, name)
			}
		}
		for name, e := range c.sets {
			if now.Sub(e.checked) >= cacheInactive {
				c.bytes -= entryOverhead
				delete(c.sets, name)
			}
		}
	}
	return c.bytes+need <= limit
}

func (c *fileCache) validity() time.Duration {
	if c.valid == 0 {
		return cacheValid
	}
	return c.valid
}

// forget drops name, which is no longer a small regular file there.
func (c *fileCache) forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.files[name]; old != nil {
		c.bytes -= old.size()
		delete(c.files, name)
	}
}

// plain reports whether r asks for the whole file with no condition, which
// is what serveCached answers itself; anything else goes to ServeContent.
func plain(r *http.Request) bool {
	h := r.Header
	return h["Range"] == nil && h["If-None-Match"] == nil && h["If-Modified-Since"] == nil &&
		h["If-Match"] == nil && h["If-Unmodified-Since"] == nil && h["If-Range"] == nil
}

// notModified reports whether r is a plain revalidation of f: its ETag
// alone in If-None-Match, as browsers send it, with no If-Match or
// If-Unmodified-Since to weigh first. Other conditions go to ServeContent.
func notModified(r *http.Request, f *cachedFile) bool {
	h := r.Header
	inm := h["If-None-Match"]
	return len(inm) == 1 && inm[0] == f.header["Etag"][0] && h["If-Match"] == nil && h["If-Unmodified-Since"] == nil
}

// serveCached answers r from f.
func serveCached(w http.ResponseWriter, r *http.Request, name string, f *cachedFile) {
	h := w.Header()
	if notModified(r, f) {
		// ServeContent's 304: the validator and Vary, no type, length,
		// coding or Last-Modified (an ETag is there).
		h["Etag"] = f.header["Etag"]
		if v, ok := f.header["Vary"]; ok {
			h["Vary"] = v
		}
		delete(h, "Content-Type")
		delete(h, "Content-Length")
		delete(h, "Content-Encoding")
		delete(h, "Last-Modified")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if !plain(r) {
		h["Etag"] = f.header["Etag"]
		if ct, ok := f.header["Content-Type"]; ok && len(h["Content-Type"]) == 0 {
			h["Content-Type"] = ct // unless an app's, as in serve
		}
		if v, ok := f.header["Vary"]; ok {
			h["Vary"] = v
		}
		if ce := f.header["Content-Encoding"]; ce != nil {
			w = &encodedWriter{ResponseWriter: w, coding: ce}
		}
		http.ServeContent(w, r, name, f.modTime, bytes.NewReader(f.data))
		return
	}
	appType := h["Content-Type"] // an app's, through X-Accel-Redirect, wins as in serve
	for k, v := range f.header {
		h[k] = v // shared, never modified: net/http only reads them
	}
	if len(appType) > 0 {
		h["Content-Type"] = appType
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(f.data)
	}
}
