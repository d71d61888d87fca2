package polls

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// readCache keeps the pages' last reads of a SQLite database while
// nothing was committed to it, by any connection of any process, and the
// clock's second (their argument) has not moved on. A read costs two
// file locks (fcntl on the -shm file, taken and released per read
// transaction) and running the statement; asking whether anything changed
// costs reading 96 bytes of shared memory.
//
// In WAL mode SQLite keeps a header at the start of the -shm file (the
// WAL index; https://sqlite.org/walformat.html) that every commit and
// every restart of the WAL rewrites: its last frame, the WAL's salts and a
// checksum over them. Two copies are written one after the other, and a
// reader that finds them different knows a writer is at work; SQLite's
// readers read it the same way, before they take their lock. An entry is
// kept only if the header read before and after the query is the same
// and whole (both copies alike): the query then read exactly that state.
// It is served only while the header is still that one: a later commit
// (a vote, the admin, another worker or a sqlite3 shell) is seen by the
// next request, as a query would see it.
type readCache struct {
	// words maps the first page of the -shm file f, read-only and shared:
	// what SQLite's connections write there is seen at once.
	f     *os.File
	mem   []byte
	words *[hdrWords]uint32 // nil if the mapping failed

	mu     sync.Mutex
	hdr    walHeader // the state the entries were read in
	now    int64     // and the second they were read for
	latest map[int][]Question
	byID   map[int64]Question
}

// walHeader is the WAL index header's first copy (48 bytes); hdrWords
// both.
type walHeader [12]uint32

const (
	hdrWords      = 2 * len(walHeader{})
	shmMapped     = 4096 // SQLite makes the file 32 KiB at least
	maxCachedByID = 1024 // questions kept per second and state
)

// newReadCache maps dbPath's -shm file, or returns nil if there is none
// (a database not in WAL mode). The file stays open until close, which
// must come after the database's connections are closed: closing any
// descriptor of a file drops every fcntl lock the process holds on it,
// and SQLite's connections hold one on the -shm file (the DMS lock) that
// tells a process opening the database that the file is in use. Without
// it, a sqlite3 shell or `stack migrate` truncates and rebuilds the file
// under the workers, whose commits and reads then fail (SQLITE_IOERR_SHMSIZE).
//
// SQLite keeps the -shm file beside the file a symbolic link names, not
// beside the link: a "-shm" found there would be another's, or one left
// by an earlier run, that no commit ever changes.
func newReadCache(dbPath string) *readCache {
	if p, err := filepath.EvalSymlinks(dbPath); err == nil {
		dbPath = p
	}
	if fi, err := os.Stat(dbPath + "-shm"); err != nil || fi.Size() < shmMapped {
		return nil
	}
	f, err := os.Open(dbPath + "-shm")
	if err != nil {
		return nil
	}
	c := &readCache{f: f}
	mem, err := syscall.Mmap(int(f.Fd()), 0, shmMapped, syscall.PROT_READ, syscall.MAP_SHARED)
	if err == nil { // else header is never ok: every read queries
		c.mem, c.words = mem, (*[hdrWords]uint32)(unsafe.Pointer(&mem[0]))
	}
	return c
}

// close unmaps the file and closes it; see newReadCache for when.
func (c *readCache) close() {
	if c.mem != nil {
		syscall.Munmap(c.mem)
	}
	c.f.Close()
}

// header reads the WAL index header; ok is false while a writer is
// rewriting it (the copies differ), or if it is not initialized. The
// copies are read in SQLite's order (the writer writes the second first),
// one word at a time with atomic loads. SQLite truncates the file only
// when no connection has it open, and this process keeps its own open;
// should it happen anyway, the fault is a panic here, and a query.
func (c *readCache) header() (h walHeader, ok bool) {
	if c.words == nil {
		return h, false
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	for i := range h {
		h[i] = atomic.LoadUint32(&c.words[i])
	}
	for i := range h {
		if atomic.LoadUint32(&c.words[len(h)+i]) != h[i] {
			return h, false
		}
	}
	// isInit, the 13th byte, is 1 once a connection has built the index.
	return h, (*[48]byte)(unsafe.Pointer(&h))[12] == 1
}

// lookLatest returns the n latest questions kept for state h and second now.
func (c *readCache) lookLatest(h walHeader, now int64, n int) ([]Question, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hdr != h || c.now != now {
		return nil, false
	}
	qs, ok := c.latest[n]
	if !ok {
		return nil, false
	}
	return slices.Clone(qs), true
}

// lookQuestion returns question id kept for state h and second now, its
// choices copied (a view may mark one Selected).
func (c *readCache) lookQuestion(h walHeader, now, id int64) (Question, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hdr != h || c.now != now {
		return Question{}, false
	}
	q, ok := c.byID[id]
	q.Choices = slices.Clone(q.Choices)
	return q, ok
}

// keep makes (h, now) the cache's state, emptying it if that changed.
func (c *readCache) keep(h walHeader, now int64) {
	if c.hdr != h || c.now != now || len(c.byID) >= maxCachedByID {
		c.hdr, c.now = h, now
		c.latest, c.byID = nil, nil
	}
}

// putLatest keeps qs, read in state h (unchanged during the read), as the
// n latest questions at second now.
func (c *readCache) putLatest(h walHeader, now int64, n int, qs []Question) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keep(h, now)
	if c.latest == nil {
		c.latest = map[int][]Question{}
	}
	c.latest[n] = slices.Clone(qs)
}

// putQuestion keeps q, read in state h, as question q.ID at second now.
func (c *readCache) putQuestion(h walHeader, now int64, q Question) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keep(h, now)
	if c.byID == nil {
		c.byID = map[int64]Question{}
	}
	q.Choices = slices.Clone(q.Choices)
	c.byID[q.ID] = q
}
