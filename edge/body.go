package edge

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stack-web/stack/edge/internal/errpage"
)

// The edge reads a request body completely before it contacts the upstream,
// as nginx does by default: a slow client then costs the edge a goroutine
// and a buffer, never a worker, and a chunked body reaches the app with an
// exact CONTENT_LENGTH. The first part lives in memory; beyond
// client_body_buffer_size the body goes to an unlinked temporary file.

// errBodyTooLarge: the body is over client_max_body_size.
var errBodyTooLarge = errors.New("request body too large")

// errBodyStore: the edge could not keep a body it read (its temporary file
// failed: a full disk, the directory gone). The client is not at fault.
var errBodyStore = errors.New("buffering request body")

// bufferedBody is a request body read in full. It implements io.Reader for
// the transports; Close releases its memory or file.
type bufferedBody struct {
	mem  []byte
	file *os.File
	size int64
	off  int64 // read position, over mem then file
	pool *sync.Pool
	refs *atomic.Int32 // readers sharing mem and file (see clone); nil: one
}

func (b *bufferedBody) Read(p []byte) (int, error) {
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
func (b *bufferedBody) InMemory() ([]byte, bool) {
	return b.mem, b.file == nil && b.off == 0
}

func (b *bufferedBody) Close() error {
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

// bodyReader reads request bodies in full under the edge's limits.
type bodyReader struct {
	max     int64         // client_max_body_size
	memMax  int64         // client_body_buffer_size
	timeout time.Duration // client_body_timeout, between reads
	tempDir string        // for bodies larger than memMax; "" is os.TempDir
	pool    sync.Pool     // *[]byte of cap memMax
}

func newBodyReader(max, memMax int64, timeout time.Duration, tempDir string) *bodyReader {
	br := &bodyReader{max: max, memMax: min(memMax, max), timeout: timeout, tempDir: tempDir}
	br.pool.New = func() any {
		b := make([]byte, 0, br.memMax)
		return &b
	}
	return br
}

// read reads r's body in full. It returns errBodyTooLarge past the limit,
// checking Content-Length first so that an oversized upload is refused
// before a byte of it is read.
func (br *bodyReader) read(w http.ResponseWriter, r *http.Request) (*bufferedBody, error) {
	if r.ContentLength > br.max {
		return nil, errBodyTooLarge
	}
	rc := http.NewResponseController(w)
	bp := br.pool.Get().(*[]byte)
	b := &bufferedBody{mem: (*bp)[:0], pool: &br.pool}
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

// refuse answers a request whose body read failed with err: 413 past
// client_max_body_size, 408 when the client paused longer than
// client_body_timeout (nginx's), 400 for a body that is malformed or ends
// early, 500 when the edge could not store the body (as nginx, whose temp
// file failing is its own error). An HTTP/1.x connection is closed after
// the answer; HTTP/2 ends the stream alone (there, net/http would take
// Connection: close for a GOAWAY of every stream's connection).
func (br *bodyReader) refuse(w http.ResponseWriter, r *http.Request, err error, logger *slog.Logger) {
	if r.ProtoMajor < 2 {
		w.Header().Set("Connection", "close")
	}
	switch {
	case errors.Is(err, errBodyTooLarge):
		logger.Warn("edge: request body over client_max_body_size", "remote", r.RemoteAddr, "uri", r.RequestURI, "limit", ByteSize(br.max), "content_length", r.ContentLength)
		errpage.Write(w, http.StatusRequestEntityTooLarge)
	case errors.Is(err, errBodyStore):
		logger.Error("edge: cannot store the request body", "remote", r.RemoteAddr, "uri", r.RequestURI, "err", err)
		errpage.Write(w, http.StatusInternalServerError)
	case isTimeout(err):
		logger.Warn("edge: client_body_timeout fired while reading the request body", "remote", r.RemoteAddr, "uri", r.RequestURI, "timeout", br.timeout)
		errpage.Write(w, http.StatusRequestTimeout)
	default:
		logger.Info("edge: client body", "remote", r.RemoteAddr, "uri", r.RequestURI, "err", err)
		errpage.Write(w, http.StatusBadRequest)
	}
}

// spill copies the rest of body into an unlinked temporary file.
func (br *bodyReader) spill(rc *http.ResponseController, body io.Reader, b *bufferedBody) error {
	f, err := os.CreateTemp(br.tempDir, "client-body-*")
	if err != nil {
		return fmt.Errorf("%w: %w", errBodyStore, err)
	}
	os.Remove(f.Name()) // the open descriptor keeps it; nothing to clean up after a crash
	b.file = f
	buf := make([]byte, 32<<10)
	for {
		rc.SetReadDeadline(time.Now().Add(br.timeout))
		n, err := body.Read(buf)
		if n > 0 {
			if b.size+int64(n) > br.max {
				return errBodyTooLarge
			}
			if _, werr := f.Write(buf[:n]); werr != nil {
				return fmt.Errorf("%w: %w", errBodyStore, werr)
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

// isTimeout reports whether err is a deadline that fired.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
