package static

import (
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/stack-web/stack/internal/rawio"
)

// fdCache keeps the descriptors of large files open between requests, as
// nginx's open_file_cache does: a file too large for fileCache costs, per
// request, an open through the root, an fstat, the building of its header
// (ETag, Last-Modified, type) and a close; from here it costs a seek back
// to the start. Measured on 1 MiB files with wrk, that is the part of the
// edge's CPU per response that is neither the sendfile nor the scheduler.
//
// A descriptor is used by one response at a time (sendfile sends from its
// offset, which the send watchdog reads), so each file has a small pool of
// idle ones; a response that finds none opens its own and leaves it to
// the pool after. An entry is trusted for the cache's validity after it
// was last checked, then re-checked with a stat of its path: a file
// replaced, or changed in place, is served as it is from then on, and the
// old descriptors are closed. Within the validity a replaced file is
// served as it was, whole and with its own header, as from fileCache.
//
// A file not asked for during cacheInactive loses its entry and its
// descriptors (a sweep runs while any are kept), so that a file deleted or
// replaced is not held open, its space not freed, for longer than that.
type fdCache struct {
	mu       sync.Mutex
	files    map[string]*openFile
	idle     int           // descriptors held in all pools
	closed   bool          // the handler closed: nothing is kept any more
	maxIdle  int           // 0: maxIdleFDs (tests shrink it)
	inactive time.Duration // 0: cacheInactive (tests shorten it)
	sweeper  *time.Timer   // armed while entries are kept
}

const (
	maxIdleFDs   = 256  // descriptors kept open in all, at most
	maxFDEntries = 4096 // files known, at most (an entry without descriptors is a few hundred bytes)
)

// openFile is one file's pool and the header made from its stat.
type openFile struct {
	fi      fs.FileInfo
	header  http.Header // Etag, Last-Modified, Content-Type, Content-Length, Accept-Ranges; shared, never modified
	checked time.Time
	used    time.Time // the last request for it (the sweep's measure)
	pool    []*os.File
	dropped bool // replaced or forgotten: its descriptors are closed when returned
}

// acquire returns name's entry and an idle descriptor of it, positioned at
// the start, while the entry is fresh or still matches the disk; a nil
// descriptor means open the file as usual (then offer it with keep).
func (c *fdCache) acquire(s *Handler, name string, now time.Time, valid time.Duration) (*openFile, *os.File) {
	c.mu.Lock()
	e := c.files[name]
	if e == nil {
		c.mu.Unlock()
		return nil, nil
	}
	if now.Sub(e.checked) >= valid {
		c.mu.Unlock()
		fi, err := s.root.Stat(name)
		c.mu.Lock()
		if c.files[name] != e {
			c.mu.Unlock()
			return nil, nil
		}
		if err != nil || !sameFile(e.fi, fi) {
			c.dropLocked(name, e)
			c.mu.Unlock()
			return nil, nil
		}
		e.checked = now
	}
	e.used = now
	var f *os.File
	if n := len(e.pool); n > 0 {
		f = e.pool[n-1]
		e.pool = e.pool[:n-1]
		c.idle--
	}
	c.mu.Unlock()
	if f != nil {
		// The header must be the descriptor's: a file rewritten in place
		// (cp over it) keeps its inode, and within the validity a longer
		// one went out cut at the old length as a complete answer, with
		// the old ETag. A chmod must stop it being served, as a fresh
		// open would. One fstat, against an open, fstat and close.
		if !unchanged(f, e.fi) { // fdstat_*.go
			f.Close()
			c.mu.Lock()
			if c.files[name] == e {
				c.dropLocked(name, e)
			}
			c.mu.Unlock()
			return nil, nil
		}
	}
	return e, f
}

// keep takes f, the open regular file name described by fi, into the pool
// of its entry (made if need be) once its response is sent, and reports
// whether it did; if not, the caller closes f.
func (c *fdCache) keep(name string, f *os.File, fi fs.FileInfo, now time.Time) bool {
	if !spareDescriptor(f) {
		return false
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.idle >= c.limit() {
		return false
	}
	e := c.files[name]
	if e != nil && !sameFile(e.fi, fi) {
		c.dropLocked(name, e)
		e = nil
	}
	if e == nil {
		if c.files == nil {
			c.files = make(map[string]*openFile)
		}
		if len(c.files) >= maxFDEntries {
			return false
		}
		e = &openFile{fi: fi, header: wholeHeader(name, f, fi), checked: now}
		c.files[name] = e
		if c.sweeper == nil {
			c.sweeper = time.AfterFunc(c.inactivity(), c.sweep)
		}
	}
	e.used = now
	e.pool = append(e.pool, f)
	c.idle++
	return true
}

// sweep drops the entries not asked for during the inactivity period, and
// comes again, when the next would expire, while any are left.
func (c *fdCache) sweep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	now := time.Now()
	next := c.inactivity()
	for name, e := range c.files {
		if left := c.inactivity() - now.Sub(e.used); left <= 0 {
			c.dropLocked(name, e)
		} else {
			next = min(next, left)
		}
	}
	if len(c.files) > 0 {
		// When the first entry left expires, not a whole period from
		// now: one asked for just after a sweep was otherwise held for
		// nearly two. At most eight sweeps a period.
		c.sweeper.Reset(max(next, c.inactivity()/8))
	} else {
		c.sweeper = nil
	}
}

func (c *fdCache) inactivity() time.Duration {
	if c.inactive == 0 {
		return cacheInactive
	}
	return c.inactive
}

// release returns f, taken from e by acquire, to e's pool, or closes it
// when e was dropped meanwhile or the pools are full.
func (c *fdCache) release(e *openFile, f *os.File) {
	if _, errno := rawio.Seek(f.Fd(), 0, io.SeekStart); errno == 0 { // raw, as fdstat's fstat
		c.mu.Lock()
		if !e.dropped && !c.closed && c.idle < c.limit() {
			e.pool = append(e.pool, f)
			c.idle++
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
	f.Close()
}

// forget drops name's entry: it is no longer a large regular file there.
func (c *fdCache) forget(name string) {
	c.mu.Lock()
	if e := c.files[name]; e != nil {
		c.dropLocked(name, e)
	}
	c.mu.Unlock()
}

// close closes every idle descriptor; those in use are closed when
// returned.
func (c *fdCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.sweeper != nil {
		c.sweeper.Stop()
	}
	for name, e := range c.files {
		c.dropLocked(name, e)
	}
}

func (c *fdCache) dropLocked(name string, e *openFile) {
	e.dropped = true
	for _, f := range e.pool {
		f.Close()
	}
	c.idle -= len(e.pool)
	e.pool = nil
	delete(c.files, name)
}

// spareDescriptor reports whether f may be kept: its number is in the
// lower half of the process's limit of open files. The kernel gives the
// lowest free number, so a number that high means half the limit is in
// use, and whatever every location's cache holds together stays below
// half of it: the pools (256 per location) never take the descriptors
// the edge needs to accept connections and reach its upstreams, under a
// limit of 1024 as under a large one.
func spareDescriptor(f *os.File) bool {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return false
	}
	return uint64(f.Fd()) < rl.Cur/2
}

func (c *fdCache) limit() int {
	if c.maxIdle == 0 {
		return maxIdleFDs
	}
	return c.maxIdle
}

// sameFile reports whether b is still the file a was: the same inode, size,
// modification time (a file rewritten in place keeps its inode) and mode
// (a chmod 000 must stop it being served).
func sameFile(a, b fs.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && a.Mode() == b.Mode()
}

// wholeHeader is the header serveWhole gives a plain GET of the file,
// made once: ETag, Last-Modified, Content-Type (by extension, else
// sniffed), Content-Length and Accept-Ranges.
func wholeHeader(name string, f *os.File, fi fs.FileInfo) http.Header {
	h := http.Header{
		"Etag":           {etag(fi)},
		"Content-Length": {strconv.FormatInt(fi.Size(), 10)},
		"Accept-Ranges":  {"bytes"},
	}
	if mt := fi.ModTime(); !mt.IsZero() && !mt.Equal(time.Unix(0, 0)) {
		h["Last-Modified"] = []string{mt.UTC().Format(http.TimeFormat)}
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		var head [512]byte
		n, _ := f.ReadAt(head[:], 0)
		ct = http.DetectContentType(head[:n])
	}
	h["Content-Type"] = []string{ct}
	return h
}

// serveOpen answers a plain GET or HEAD from a pooled descriptor, as
// serveWhole does from a fresh one, and reports whether the body went out
// whole.
func serveOpen(w http.ResponseWriter, r *http.Request, f *os.File, e *openFile) bool {
	h := w.Header()
	appType := h["Content-Type"] // an app's, through X-Accel-Redirect, wins as in serve
	for k, v := range e.header {
		h[k] = v
	}
	if len(appType) > 0 {
		h["Content-Type"] = appType
	}
	if h.Get("Content-Encoding") != "" {
		delete(h, "Content-Length") // as serveWhole
	}
	w.WriteHeader(http.StatusOK)
	return sendBody(w, r, f, e.fi.Size()) // whole.go
}
