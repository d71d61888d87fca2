// Package respbuf is the edge's response buffering (nginx's
// uwsgi_buffering): it reads an upstream's response ahead of a slow client,
// into memory and then an unlinked temporary file, so that the app worker
// is free as soon as the response is complete. It stands alone because it
// knows nothing of locations, clients or upstreams: it turns one
// *http.Response body into a buffered one, under a Policy.
package respbuf

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
)

// Response buffering (nginx's uwsgi_buffering). A slow client must not hold
// an app worker: the edge reads the upstream's response as fast as the app
// writes it, into memory up to response_buffer_size and then into an
// unlinked temporary file of at most max_temp_file_size, and closes the
// upstream connection as soon as the response is complete. The client is
// then fed from the buffer at its own pace.
//
// Unlike nginx, what has arrived is passed on at once, not when a buffer
// fills: a response the app flushes line by line (/stream/N, server-sent
// events) still reaches the client line by line, so buffering need not be
// turned off for streams. It can be, per location (buffering: false) or
// per response (the app sends X-Accel-Buffering: no, which the edge
// removes, as nginx does; "yes" turns it on where the location has it off).
//
// When the buffer is full, the edge stops reading ahead: once the client
// has caught up, the rest of the response goes straight through at the
// client's pace, as nginx does past max_temp_file_size.

// Policy is a location's response buffering.
type Policy struct {
	On      bool
	Mem     int64  // response_buffer_size
	MaxFile int64  // max_temp_file_size; 0: no file
	TempDir string // "" is the system's
	Logger  *slog.Logger
}

// smallResponse: a response this short, with a Content-Length, is read in
// full before the head is sent, with no goroutine.
const smallResponse = 32 << 10

// ModifyResponse is the forwarder's hook that puts a buffer between the
// upstream's body and the client.
func (b Policy) ModifyResponse(resp *http.Response) error {
	on := b.On
	if v := resp.Header["X-Accel-Buffering"]; len(v) > 0 && v[0] != "" {
		on = !strings.EqualFold(v[0], "no")
		delete(resp.Header, "X-Accel-Buffering")
	}
	if !on || resp.Body == nil || resp.Body == http.NoBody ||
		(resp.Request != nil && resp.Request.Method == http.MethodHead) {
		return nil
	}
	if wb, ok := resp.Body.(interface{ Buffered() int }); ok && resp.ContentLength >= 0 && int64(wb.Buffered()) >= resp.ContentLength {
		// All of it has arrived: the app server is done with this
		// response, and the forwarder writes it out as it lies in the
		// transport's buffer (Whole), without a copy here.
		return nil
	}
	if n := resp.ContentLength; n >= 0 && n <= min(smallResponse, b.Mem) {
		m := &MemBody{b: make([]byte, n)}
		got, err := io.ReadFull(resp.Body, m.b)
		resp.Body.Close()
		if err != nil {
			// A body that ended early reaches the client as it would
			// unbuffered: what came, then the error, which aborts the
			// response (never a complete-looking one).
			resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(m.b[:got]), errReader{err}))
			return nil
		}
		resp.Body = m
		return nil
	}
	rb := &responseBuffer{src: resp.Body, policy: b}
	rb.cond.L = &rb.mu
	resp.Body = rb
	go rb.pump()
	return nil
}

// Buffers reports whether body is a buffer ModifyResponse put in front of
// an upstream's body of unknown length: when it is not, the app asked for
// its response unbuffered (X-Accel-Buffering: no, buffering: false), and
// the forwarder has it flushed through to the client read by read, the
// compressor's output included.
func Buffers(body io.Reader) bool {
	_, ok := body.(*responseBuffer)
	return ok
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// responseBuffer holds a response body between the upstream (written by
// pump) and the client (read by the forwarder). Bytes 0..len(mem) are in
// memory, the rest in file at their offset less len(mem).
type responseBuffer struct {
	src    io.ReadCloser
	policy Policy

	mu       sync.Mutex
	cond     sync.Cond
	mem      []byte
	file     *os.File
	spill    []byte // read from src but not stored: the file failed
	total    int64  // bytes stored
	rd       int64  // bytes read by the client side
	err      error  // how the upstream body ended (io.EOF when complete)
	pumpDone bool   // the pump has returned (and closed src, unless direct)
	direct   bool   // the buffer filled: past what is stored, read src directly
	closed   bool   // Close was called
}

// pump reads the upstream body into the buffer until it ends, the buffer
// is full, or the client side is closed.
func (b *responseBuffer) pump() {
	bp := CopyBuffers.Get().(*[]byte)
	defer CopyBuffers.Put(bp)
	buf := *bp
	var err error
	for {
		room := b.room()
		if room <= 0 {
			b.passRest()
			return
		}
		var n int
		n, err = b.src.Read(buf[:min(int64(len(buf)), room)])
		if n > 0 {
			if werr := b.store(buf[:n]); werr != nil {
				// A full disk or a temp directory gone must not cost the
				// client its response: what was not stored is in spill,
				// and the rest goes at the client's pace.
				if b.policy.Logger != nil {
					b.policy.Logger.Warn("edge: cannot buffer the response; passing the rest at the client's pace", "err", werr)
				}
				if err == nil {
					b.passRest()
					return
				}
			}
		}
		b.mu.Lock()
		stop := b.closed
		b.mu.Unlock()
		if err != nil || stop {
			break
		}
	}
	b.src.Close() // the upstream connection, and the worker, are free now
	b.mu.Lock()
	b.err = err
	if err == nil {
		b.err = io.ErrUnexpectedEOF // stopped by Close; nobody reads it
	}
	b.pumpDone = true
	b.cond.Broadcast()
	release := b.closed
	b.mu.Unlock()
	if release {
		b.releaseFile()
	}
}

// passRest ends the pump when the buffer can take no more: past what is
// stored, the client side reads src itself.
func (b *responseBuffer) passRest() {
	b.mu.Lock()
	b.direct = true
	b.pumpDone = true
	b.cond.Broadcast()
	release := b.closed
	b.mu.Unlock()
	if release {
		b.src.Close()
		b.releaseFile()
	}
}

// room is how many more bytes the buffer takes.
func (b *responseBuffer) room() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.total < b.policy.Mem {
		return b.policy.Mem - b.total
	}
	return b.policy.MaxFile - (b.total - int64(len(b.mem)))
}

// store appends p (which fits the room) to memory or the file. On error,
// what was not stored is kept in spill.
func (b *responseBuffer) store(p []byte) error {
	b.mu.Lock()
	if b.total < b.policy.Mem {
		b.mem = append(b.mem, p...)
		b.total += int64(len(p))
		b.cond.Broadcast()
		b.mu.Unlock()
		return nil
	}
	f, off := b.file, b.total-int64(len(b.mem))
	b.mu.Unlock()
	if f == nil {
		var err error
		if f, err = os.CreateTemp(b.policy.TempDir, "response-*"); err != nil {
			b.mu.Lock()
			b.spill = append(b.spill, p...)
			b.mu.Unlock()
			return fmt.Errorf("buffering the response: %w", err)
		}
		os.Remove(f.Name()) // the descriptor keeps it; nothing to clean up after a crash
		b.mu.Lock()
		b.file = f
		b.mu.Unlock()
	}
	// The client side reads only below total, so this region is the
	// pump's alone until total moves.
	n, err := f.WriteAt(p, off)
	b.mu.Lock()
	b.total += int64(n)
	if err != nil {
		b.spill = append(b.spill, p[n:]...)
	}
	b.cond.Broadcast()
	b.mu.Unlock()
	if err != nil {
		return fmt.Errorf("buffering the response: %w", err)
	}
	return nil
}

// Read returns what is stored, waiting for more while the upstream is
// still sending; then the upstream's end: io.EOF, or its error, so a
// truncated response is still aborted at the client.
func (b *responseBuffer) Read(p []byte) (int, error) {
	b.mu.Lock()
	for b.rd == b.total && !b.pumpDone && !b.closed {
		b.cond.Wait()
	}
	switch {
	case b.closed:
		b.mu.Unlock()
		return 0, http.ErrBodyReadAfterClose
	case b.rd < int64(len(b.mem)):
		n := copy(p, b.mem[b.rd:])
		b.rd += int64(n)
		b.mu.Unlock()
		return n, nil
	case b.rd < b.total:
		f, off := b.file, b.rd-int64(len(b.mem))
		n := int(min(int64(len(p)), b.total-b.rd))
		b.mu.Unlock()
		n, err := f.ReadAt(p[:n], off)
		b.mu.Lock()
		b.rd += int64(n)
		b.mu.Unlock()
		if err == io.EOF {
			err = nil
		}
		return n, err
	case len(b.spill) > 0:
		n := copy(p, b.spill)
		b.spill = b.spill[n:]
		b.mu.Unlock()
		return n, nil
	case b.direct:
		b.mu.Unlock()
		return b.src.Read(p)
	}
	err := b.err
	b.mu.Unlock()
	return 0, err
}

// Buffered reports how much Read returns without waiting (1 for an end
// that is known), so the forwarder knows whether the head should go out
// before the body's first bytes.
func (b *responseBuffer) Buffered() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n := b.total - b.rd; n > 0 {
		return int(min(n, 1<<30))
	}
	if b.pumpDone && !b.direct {
		return 1
	}
	return 0
}

// Close ends the client side. A pump still reading notices at its next
// read, which the end of the request interrupts (the transports watch the
// request's context); it then closes the upstream and the file.
func (b *responseBuffer) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.cond.Broadcast()
	done, direct := b.pumpDone, b.direct
	b.mu.Unlock()
	if direct {
		b.src.Close()
	}
	if done {
		b.releaseFile()
	}
	return nil
}

func (b *responseBuffer) releaseFile() {
	b.mu.Lock()
	f := b.file
	b.file, b.mem, b.spill = nil, nil, nil
	b.mu.Unlock()
	if f != nil {
		f.Close()
	}
}

// MemBody is a response body held whole in memory (ModifyResponse fills
// it), written out by the forwarder in one piece. Its buffer is the body's
// size, not pooled: a pool of 32 KiB buffers is emptied by every
// collection, and refilling it allocates large objects.
type MemBody struct {
	b   []byte
	off int
}

// Bytes is the whole body.
func (m *MemBody) Bytes() []byte { return m.b }

func (m *MemBody) Read(p []byte) (int, error) {
	if m.off >= len(m.b) {
		return 0, io.EOF
	}
	n := copy(p, m.b[m.off:])
	m.off += n
	return n, nil
}

func (m *MemBody) Buffered() int { return len(m.b) - m.off }

// Whole is the rest of the body, counted as read (the forwarder writes it
// in one piece).
func (m *MemBody) Whole() ([]byte, bool) {
	p := m.b[m.off:]
	m.off = len(m.b)
	return p, true
}

func (m *MemBody) Close() error { return nil }

// CopyBuffers holds the 32 KiB buffers the edge copies bodies through (the
// pump here, the forwarder, the lingering close).
var CopyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
