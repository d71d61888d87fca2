// Package reqbody reads a request body in full before the upstream is
// contacted, as nginx does by default: in memory up to
// client_body_buffer_size, then in an unlinked temporary file, under
// client_max_body_size and client_body_timeout. It stands alone because it
// is one mechanism with one product, a Body that the upstream transports
// send (and clone for each attempt), and knows nothing of locations.
package reqbody

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stack-web/stack/edge/upstream"
)

// The edge reads a request body completely before it contacts the upstream,
// as nginx does by default: a slow client then costs the edge a goroutine
// and a buffer, never a worker, and a chunked body reaches the app with an
// exact CONTENT_LENGTH. The first part lives in memory; beyond
// client_body_buffer_size the body goes to an unlinked temporary file.

// ErrTooLarge: the body is over client_max_body_size.
var ErrTooLarge = errors.New("request body too large")

// ErrStore: the edge could not keep a body it read (its temporary file
// failed: a full disk, the directory gone). The client is not at fault.
var ErrStore = errors.New("buffering request body")

// Body is a request body read in full. It implements io.Reader for
// the transports; Close releases its memory or file.
type Body struct {
	mem  []byte
	file *os.File
	size int64
	off  int64 // read position, over mem then file
	pool *sync.Pool
	refs *atomic.Int32 // readers sharing mem and file (see clone); nil: one
}

// Size is the body's length in bytes.
func (b *Body) Size() int64 { return b.size }

func (b *Body) Read(p []byte) (int, error) {
	if b.off < int64(len(b.mem)) {
		n := copy(p, b.mem[b.off:])
		b.off += int64(n)
		return n, nil
	}
	if b.file == nil || b.off >= b.size {
		return 0, io.EOF
	}
	n, err := b.file.ReadAt(p[:min(int64(len(p)), b.size-b.off)], b.off-int64(len(b.mem)))
	b.off += int64(n)
	if err == io.EOF && b.off < b.size {
		err = io.ErrUnexpectedEOF
	} else if err == io.EOF {
		err = nil
	}
	return n, err
}

// InMemory returns the body when it is entirely in memory, so a transport
// can send it in the same write as the request head.
func (b *Body) InMemory() ([]byte, bool) {
	return b.mem, b.file == nil && b.off == 0
}

func (b *Body) Close() error {
	if b.refs != nil {
		refs := b.refs
		b.refs = nil
		if refs.Add(-1) > 0 {
			b.mem, b.file, b.pool = nil, nil, nil // another reader still uses them
			return nil
		}
	}
	if b.file != nil {
		b.file.Close()
		b.file = nil
	}
	if b.pool != nil && b.mem != nil {
		m := b.mem[:0]
		b.pool.Put(&m)
	}
	b.mem, b.pool = nil, nil
	return nil
}

// Reader reads request bodies in full under the edge's limits.
type Reader struct {
	max     int64         // client_max_body_size
	memMax  int64         // client_body_buffer_size
	timeout time.Duration // client_body_timeout, between reads
	tempDir string        // for bodies larger than memMax; "" is os.TempDir
	pool    sync.Pool     // *[]byte of cap memMax
}

// NewReader reads bodies of at most max bytes, memMax of them in memory,
// pausing at most timeout between reads, spilling into tempDir.
func NewReader(max, memMax int64, timeout time.Duration, tempDir string) *Reader {
	br := &Reader{max: max, memMax: min(memMax, max), timeout: timeout, tempDir: tempDir}
	br.pool.New = func() any {
		b := make([]byte, 0, br.memMax)
		return &b
	}
	return br
}

// Max is client_max_body_size.
func (br *Reader) Max() int64 { return br.max }

// Timeout is client_body_timeout, the longest pause between reads.
func (br *Reader) Timeout() time.Duration { return br.timeout }

// Read reads r's body in full. It returns ErrTooLarge past the limit,
// checking Content-Length first so that an oversized upload is refused
// before a byte of it is read.
func (br *Reader) Read(w http.ResponseWriter, r *http.Request) (*Body, error) {
	if r.ContentLength > br.max {
		return nil, ErrTooLarge
	}
	rc := http.NewResponseController(w)
	bp := br.pool.Get().(*[]byte)
	b := &Body{mem: (*bp)[:0], pool: &br.pool}
	for {
		if len(b.mem) == cap(b.mem) {
			break // memory is full: the rest goes to a file
		}
		rc.SetReadDeadline(time.Now().Add(br.timeout))
		n, err := r.Body.Read(b.mem[len(b.mem):cap(b.mem)])
		b.mem = b.mem[:len(b.mem)+n]
		b.size += int64(n)
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("reading request body: %w", err)
		}
	}
	if err := br.spill(rc, r.Body, b); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// spill copies the rest of body into an unlinked temporary file.
func (br *Reader) spill(rc *http.ResponseController, body io.Reader, b *Body) error {
	f, err := os.CreateTemp(br.tempDir, "client-body-*")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	os.Remove(f.Name()) // the open descriptor keeps it; nothing to clean up after a crash
	b.file = f
	buf := make([]byte, 32<<10)
	for {
		rc.SetReadDeadline(time.Now().Add(br.timeout))
		n, err := body.Read(buf)
		if n > 0 {
			if b.size+int64(n) > br.max {
				return ErrTooLarge
			}
			if _, werr := f.Write(buf[:n]); werr != nil {
				return fmt.Errorf("%w: %w", ErrStore, werr)
			}
			b.size += int64(n)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading request body: %w", err)
		}
	}
}

// IsTimeout reports whether err is a deadline that fired.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// A Body is what an upstream.Group clones for each attempt.
var _ upstream.BufferedBody = (*Body)(nil)

// Clone returns a new reader of the same buffered body, from its start,
// for one attempt at an upstream. Each attempt needs its own: the stdlib
// transport writes the body from a goroutine of its own, which may still
// be reading (or closing) it after RoundTrip has returned, and it closes
// what it was given. The memory and file are shared and released when the
// last reader, the original included, is closed, so a pooled buffer is
// never handed out again while a transport may still read it.
func (b *Body) Clone() upstream.BufferedBody {
	if b.refs == nil {
		b.refs = new(atomic.Int32)
		b.refs.Store(1)
	}
	b.refs.Add(1)
	return &Body{mem: b.mem, file: b.file, size: b.size, pool: b.pool, refs: b.refs}
}
