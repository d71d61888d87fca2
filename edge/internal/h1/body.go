package h1

import (
	"bufio"
	"errors"
	"io"
	"sync"
)

// A request body, framed by Content-Length or chunked transfer coding and
// read from the connection's buffered reader. A client that sent
// "Expect: 100-continue" is told to go on at the first read only, so a
// handler that answers without reading (413, 401) never invites the body.
//
// After the handler, what it left unread decides the connection's fate
// as in net/http: a small remainder is read and dropped so the connection
// can serve the next request; a larger one, or a body never invited,
// closes the connection instead.

// maxDrain is how much of a leftover body is read to keep the connection
// (net/http's maxPostHandlerReadBytes).
const maxDrain = 256 << 10

// maxChunkLine bounds a chunk-size line, extensions included (net/http's
// limit too): an endless extension is an error, not a memory sink.
const maxChunkLine = 4096

var (
	// ErrBodyReadAfterClose is returned by a body read after the handler
	// returned or closed it.
	ErrBodyReadAfterClose = errors.New("h1: invalid Read on closed Body")
	errMalformedChunk     = errors.New("h1: malformed chunked encoding")
	errChunkTooLarge      = errors.New("h1: chunk length too large")
	errChunkLineTooLong   = errors.New("h1: chunk line too long")
)

// body is the request body; one per connection, reset per request.
type body struct {
	mu        sync.Mutex // Read and Close may come from different goroutines
	c         *conn
	br        *bufio.Reader
	chunked   bool
	framed    bool  // the request has a body (Content-Length > 0 or chunked)
	remain    int64 // Content-Length bytes, or the current chunk's, still to read
	inChunk   bool  // chunked: within a chunk's data
	sawEOF    bool
	closed    bool
	err       error // a sticky read error
	continue_ bool  // 100-continue still to be sent before the first read
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, ErrBodyReadAfterClose
	}
	if b.continue_ {
		b.continue_ = false
		if err := b.c.writeContinue(); err != nil {
			b.err = err
		}
	}
	return b.read(p)
}

func (b *body) read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.sawEOF {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var err error
	if b.chunked {
		n, err = b.readChunked(p)
	} else {
		if int64(len(p)) > b.remain {
			p = p[:b.remain]
		}
		n, err = b.br.Read(p)
		b.remain -= int64(n)
		if b.remain == 0 {
			b.sawEOF, err = true, io.EOF
		} else if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
	}
	if err != nil && err != io.EOF {
		b.err = err
	}
	if b.sawEOF {
		b.c.bodyDone()
	}
	return n, err
}

func (b *body) readChunked(p []byte) (int, error) {
	if !b.inChunk {
		size, err := b.chunkSize()
		if err != nil {
			return 0, err
		}
		if size == 0 {
			if err := b.trailer(); err != nil {
				return 0, err
			}
			b.sawEOF = true
			return 0, io.EOF
		}
		b.remain, b.inChunk = size, true
	}
	if int64(len(p)) > b.remain {
		p = p[:b.remain]
	}
	n, err := b.br.Read(p)
	b.remain -= int64(n)
	if err == io.EOF {
		return n, io.ErrUnexpectedEOF
	}
	if err != nil {
		return n, err
	}
	if b.remain == 0 {
		b.inChunk = false
		if err := b.crlf(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// chunkSize reads a chunk-size line: hex digits (at most 15: no overflow),
// optional whitespace and extensions, which are ignored.
func (b *body) chunkSize() (int64, error) {
	line, err := b.line()
	if err != nil {
		return 0, err
	}
	var size int64
	i := 0
	for ; i < len(line); i++ {
		d := unhex(line[i])
		if d < 0 {
			break
		}
		if i >= 15 {
			return 0, errChunkTooLarge
		}
		size = size<<4 | int64(d)
	}
	if i == 0 {
		return 0, errMalformedChunk
	}
	rest := line[i:]
	for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
		rest = rest[1:]
	}
	if len(rest) > 0 && rest[0] != ';' {
		return 0, errMalformedChunk
	}
	for _, c := range rest {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return 0, errMalformedChunk
		}
	}
	return size, nil
}

// line reads one line of the chunked framing, without its CRLF, from the
// reader's buffer (valid until the next read).
func (b *body) line() ([]byte, error) {
	line, err := b.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(line) > maxChunkLine {
		return nil, errChunkLineTooLong
	}
	if err == io.EOF {
		return nil, io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, errMalformedChunk // a chunk line ends with CRLF
	}
	return line[:len(line)-2], nil
}

// crlf reads the CRLF that ends a chunk's data.
func (b *body) crlf() error {
	line, err := b.line()
	if err != nil {
		return err
	}
	if len(line) != 0 {
		return errMalformedChunk
	}
	return nil
}

// trailer reads and drops the trailer section, bounded like a head.
func (b *body) trailer() error {
	total := 0
	for {
		line, err := b.line()
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		if total += len(line); total > maxTrailer {
			return errChunkLineTooLong
		}
		if !validField(line) {
			return errMalformedChunk
		}
	}
}

// validField reports whether a trailer line is a field line as the head's
// are (no obs-fold, a token, a colon, a value without controls): anything
// else, a request line included, is a framing the edge and a proxy before
// it could read differently.
func validField(line []byte) bool {
	colon := 0
	for colon < len(line) && tokenTable[line[colon]] {
		colon++
	}
	if colon == 0 || colon == len(line) || line[colon] != ':' {
		return false
	}
	for _, c := range line[colon+1:] {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

const maxTrailer = 16 << 10

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// Close marks the body closed for the handler; what is left of it is the
// connection's business after the handler returns.
func (b *body) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

// wontDrain reports whether what is left of the body will not be read
// after the handler: the answer must then close the connection.
func (b *body) wontDrain() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.sawEOF && (b.continue_ || b.err != nil || !b.chunked && b.remain > maxDrain)
}

// finish ends the body's use by the handler and reports whether the
// connection can serve another request: the body was read to its end, or
// the rest of it was drained here.
func (b *body) finish() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if b.sawEOF {
		return true
	}
	if b.err != nil || b.continue_ {
		// A failed body cannot be skipped; an uninvited one will
		// not come (or come as what looks like the next request).
		return false
	}
	if !b.chunked && b.remain > maxDrain {
		return false
	}
	var buf [4096]byte
	drained := 0
	for drained <= maxDrain {
		n, err := b.read(buf[:])
		drained += n
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
	return false
}
