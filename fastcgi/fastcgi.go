// Package fastcgi implements the client side of the FastCGI wire protocol
// (FastCGI Specification 1.0, Open Market, 1996), as a web server such as
// nginx's fastcgi_pass speaks it to PHP-FPM or to a Go program on
// net/http/fcgi. The edge's FastCGI transport is built on it.
//
// Everything on the connection is a record: an 8-byte header, the content
// and padding.
//
//	uint8      version        1
//	uint8      type           BEGIN_REQUEST, PARAMS, STDIN, STDOUT, ...
//	uint16 BE  requestId      1 here: one request at a time on a connection
//	uint16 BE  contentLength  0..65535
//	uint8      paddingLength  0..255, so records can be aligned to 8 bytes
//	uint8      reserved
//	content    contentLength bytes
//	padding    paddingLength bytes, ignored
//
// A request is BEGIN_REQUEST (role RESPONDER, and FCGI_KEEP_CONN when the
// client wants the connection back), the CGI variables in PARAMS records as
// name-value pairs ended by an empty PARAMS record, then the body in STDIN
// records ended by an empty STDIN record. The answer is a CGI response in
// STDOUT records (a header block with an optional "Status:" line, then the
// body), diagnostics in STDERR records, and an END_REQUEST record that ends
// the request: unlike uwsgi, the protocol says when a response is complete.
//
// The reader trusts nothing the server sends: a record's length is read
// whole or the stream is broken (io.ErrUnexpectedEOF), a version other than
// 1, a request id other than the one asked, an END_REQUEST of the wrong
// size or a record type a server must not send are errors.
package fastcgi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Record types (spec §8).
const (
	TypeBeginRequest    uint8 = 1
	TypeAbortRequest    uint8 = 2
	TypeEndRequest      uint8 = 3
	TypeParams          uint8 = 4
	TypeStdin           uint8 = 5
	TypeStdout          uint8 = 6
	TypeStderr          uint8 = 7
	TypeData            uint8 = 8
	TypeGetValues       uint8 = 9
	TypeGetValuesResult uint8 = 10
	TypeUnknownType     uint8 = 11
)

// Roles, flags and protocol statuses (spec §5.1, §5.5).
const (
	RoleResponder uint16 = 1
	// FlagKeepConn asks the server to keep the connection open after the
	// request, for the next one.
	FlagKeepConn uint8 = 1

	StatusRequestComplete uint8 = 0
	StatusCantMpxConn     uint8 = 1
	StatusOverloaded      uint8 = 2
	StatusUnknownRole     uint8 = 3
)

const (
	// Version1 is the only version of the protocol.
	Version1 = 1
	// HeaderSize is the size of a record header.
	HeaderSize = 8
	// MaxContent is the most content one record carries.
	MaxContent = 65535
	// MaxPadding is the most padding one record carries.
	MaxPadding = 255
)

// Errors of the reader; wrapped with detail, test with errors.Is.
var (
	// ErrProtocol: the server sent something the protocol does not allow.
	ErrProtocol = errors.New("fastcgi: protocol error")
	// ErrMalformedParams: a PARAMS content is not a sequence of pairs.
	ErrMalformedParams = errors.New("fastcgi: malformed name-value pairs")
)

// Header is a record's header.
type Header struct {
	Version       uint8
	Type          uint8
	RequestID     uint16
	ContentLength uint16
	PaddingLength uint8
}

// AppendHeader appends the header of a record of typ carrying n bytes of
// content, padded to a multiple of 8 as nginx and PHP-FPM pad; it returns
// the padding length.
func AppendHeader(dst []byte, typ uint8, id uint16, n int) ([]byte, int) {
	pad := -n & 7
	dst = append(dst, Version1, typ, byte(id>>8), byte(id), byte(n>>8), byte(n), byte(pad), 0)
	return dst, pad
}

var zeros [MaxPadding]byte

// AppendRecord appends content as records of typ, split at MaxContent
// bytes, each padded to 8. Empty content appends one empty record, which
// ends a PARAMS or STDIN stream.
func AppendRecord(dst []byte, typ uint8, id uint16, content []byte) []byte {
	for {
		n := min(len(content), MaxContent)
		var pad int
		dst, pad = AppendHeader(dst, typ, id, n)
		dst = append(dst, content[:n]...)
		dst = append(dst, zeros[:pad]...)
		content = content[n:]
		if len(content) == 0 {
			return dst
		}
	}
}

// AppendBeginRequest appends a BEGIN_REQUEST record for role with flags.
func AppendBeginRequest(dst []byte, id uint16, role uint16, flags uint8) []byte {
	dst, _ = AppendHeader(dst, TypeBeginRequest, id, 8)
	return append(dst, byte(role>>8), byte(role), flags, 0, 0, 0, 0, 0)
}

// AppendPair appends one name-value pair in the PARAMS encoding: each
// length in one byte below 128, else in four bytes with the top bit set.
func AppendPair(dst []byte, name, value string) []byte {
	dst = appendLength(dst, len(name))
	dst = appendLength(dst, len(value))
	dst = append(dst, name...)
	return append(dst, value...)
}

func appendLength(dst []byte, n int) []byte {
	if n < 128 {
		return append(dst, byte(n))
	}
	return binary.BigEndian.AppendUint32(dst, uint32(n)|1<<31)
}

// PairLen is the encoded length of a pair, for sizing buffers.
func PairLen(name, value string) int {
	n := len(name) + len(value) + 2
	if len(name) >= 128 {
		n += 3
	}
	if len(value) >= 128 {
		n += 3
	}
	return n
}

// ParsePairs calls fn for each name-value pair of a PARAMS stream's
// content. A length that runs past the content is ErrMalformedParams,
// never a read beyond it.
func ParsePairs(b []byte, fn func(name, value []byte)) error {
	for len(b) > 0 {
		nl, n, err := readLength(b)
		if err != nil {
			return err
		}
		b = b[n:]
		vl, n, err := readLength(b)
		if err != nil {
			return err
		}
		b = b[n:]
		if uint64(nl)+uint64(vl) > uint64(len(b)) {
			return fmt.Errorf("%w: a pair of %d+%d bytes in the %d left", ErrMalformedParams, nl, vl, len(b))
		}
		fn(b[:nl], b[nl:nl+vl])
		b = b[nl+vl:]
	}
	return nil
}

func readLength(b []byte) (length uint32, size int, err error) {
	if len(b) == 0 {
		return 0, 0, fmt.Errorf("%w: a pair cut short", ErrMalformedParams)
	}
	if b[0] < 128 {
		return uint32(b[0]), 1, nil
	}
	if len(b) < 4 {
		return 0, 0, fmt.Errorf("%w: a four-byte length cut short", ErrMalformedParams)
	}
	return binary.BigEndian.Uint32(b) &^ (1 << 31), 4, nil
}

// EndRequest is the content of an END_REQUEST record.
type EndRequest struct {
	AppStatus      uint32 // the application's exit status
	ProtocolStatus uint8  // StatusRequestComplete, or why the request was refused
}

// Reader reads the records a server sends for one request id. It owns a
// buffer of one record, so reading allocates nothing; the content it
// returns is valid until the next call.
type Reader struct {
	r   io.Reader
	id  uint16
	buf [HeaderSize + MaxContent + MaxPadding]byte
}

// NewReader returns a Reader of r that accepts records of request id.
func NewReader(r io.Reader, id uint16) *Reader {
	return &Reader{r: r, id: id}
}

// Reset makes the reader read r, for request id.
func (rd *Reader) Reset(r io.Reader, id uint16) { rd.r, rd.id = r, id }

// Next reads one record and returns its type and content. The record must
// be STDOUT, STDERR or END_REQUEST of the reader's request id, with a
// version of 1 and (for END_REQUEST) 8 bytes of content; anything else is
// ErrProtocol. A stream that ends inside a record is io.ErrUnexpectedEOF;
// one that ends between records is io.EOF (the caller decides whether an
// END_REQUEST was owed).
func (rd *Reader) Next() (typ uint8, content []byte, err error) {
	h := rd.buf[:HeaderSize]
	if _, err := io.ReadFull(rd.r, h); err != nil {
		return 0, nil, err
	}
	hd := Header{Version: h[0], Type: h[1], RequestID: binary.BigEndian.Uint16(h[2:]),
		ContentLength: binary.BigEndian.Uint16(h[4:]), PaddingLength: h[6]}
	if hd.Version != Version1 {
		return 0, nil, fmt.Errorf("%w: record version %d, not 1", ErrProtocol, hd.Version)
	}
	n := int(hd.ContentLength) + int(hd.PaddingLength)
	body := rd.buf[HeaderSize : HeaderSize+n]
	if _, err := io.ReadFull(rd.r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, fmt.Errorf("reading a record of %d bytes: %w", n, err)
	}
	content = body[:hd.ContentLength]
	if hd.RequestID != rd.id {
		return 0, nil, fmt.Errorf("%w: record of type %d for request %d, not %d", ErrProtocol, hd.Type, hd.RequestID, rd.id)
	}
	switch hd.Type {
	case TypeStdout, TypeStderr:
	case TypeEndRequest:
		if len(content) != 8 {
			return 0, nil, fmt.Errorf("%w: END_REQUEST of %d bytes, not 8", ErrProtocol, len(content))
		}
	default:
		return 0, nil, fmt.Errorf("%w: unexpected record type %d", ErrProtocol, hd.Type)
	}
	return hd.Type, content, nil
}

// ParseEndRequest decodes an END_REQUEST record's content (8 bytes, which
// Next has checked).
func ParseEndRequest(content []byte) EndRequest {
	return EndRequest{AppStatus: binary.BigEndian.Uint32(content), ProtocolStatus: content[4]}
}

// Err describes a protocol status that is not StatusRequestComplete.
func (e EndRequest) Err() error {
	switch e.ProtocolStatus {
	case StatusRequestComplete:
		return nil
	case StatusCantMpxConn:
		return fmt.Errorf("%w: the server cannot multiplex connections (FCGI_CANT_MPX_CONN)", ErrProtocol)
	case StatusOverloaded:
		return fmt.Errorf("%w: the server is overloaded (FCGI_OVERLOADED)", ErrProtocol)
	case StatusUnknownRole:
		return fmt.Errorf("%w: the server does not play the responder role (FCGI_UNKNOWN_ROLE)", ErrProtocol)
	}
	return fmt.Errorf("%w: END_REQUEST with protocol status %d", ErrProtocol, e.ProtocolStatus)
}

// Stdout is the response stream of one request: the content of its STDOUT
// records, in order, as one io.Reader. STDERR content goes to Stderr as it
// arrives; END_REQUEST ends the stream (io.EOF, or the protocol status's
// error). A connection that ends before END_REQUEST is
// io.ErrUnexpectedEOF: the response is incomplete, whatever it looked like.
type Stdout struct {
	rd *Reader
	// Stderr receives each STDERR record's content (valid only during
	// the call); nil drops it.
	Stderr func([]byte)
	// End is set once END_REQUEST has been read.
	End     *EndRequest
	pending []byte
	err     error
	end     EndRequest
}

// NewStdout returns the response stream read by rd.
func NewStdout(rd *Reader, stderr func([]byte)) *Stdout {
	return &Stdout{rd: rd, Stderr: stderr}
}

// Remaining reports, when the stream's end is at hand, how many bytes of
// it are left to read: next holds the bytes its Reader reads next (a
// buffer's, not yet read), and whole is true when they hold every record
// up to a successful END_REQUEST, so that reading the rest never waits.
// A response that says no length then gets one, as nginx's buffered
// FastCGI answers are written whole. A record of another request, an
// unknown type or an END_REQUEST with an error is not whole: reading
// reports it.
func (s *Stdout) Remaining(next []byte) (n int, whole bool) {
	n = len(s.pending)
	if s.err != nil {
		return n, s.err == io.EOF
	}
	for len(next) >= HeaderSize {
		typ, id := next[1], binary.BigEndian.Uint16(next[2:])
		size := HeaderSize + int(binary.BigEndian.Uint16(next[4:])) + int(next[6])
		if next[0] != Version1 || id != s.rd.id || len(next) < size {
			return 0, false
		}
		content := next[HeaderSize : HeaderSize+int(binary.BigEndian.Uint16(next[4:]))]
		switch typ {
		case TypeStdout:
			n += len(content)
		case TypeStderr:
		case TypeEndRequest:
			if len(content) != 8 || ParseEndRequest(content).Err() != nil {
				return 0, false
			}
			return n, true
		default:
			return 0, false
		}
		next = next[size:]
	}
	return 0, false
}

func (s *Stdout) Read(p []byte) (int, error) {
	for len(s.pending) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		typ, content, err := s.rd.Next()
		switch {
		case err == io.EOF:
			s.err = fmt.Errorf("the server closed the connection before END_REQUEST: %w", io.ErrUnexpectedEOF)
		case err != nil:
			s.err = err
		case typ == TypeStdout:
			s.pending = content
		case typ == TypeStderr:
			if s.Stderr != nil && len(content) > 0 {
				s.Stderr(content)
			}
		case typ == TypeEndRequest:
			s.end = ParseEndRequest(content)
			s.End = &s.end
			s.err = io.EOF
			if err := s.end.Err(); err != nil {
				s.err = err
			}
		}
	}
	n := copy(p, s.pending)
	s.pending = s.pending[n:]
	return n, nil
}

// WriteStdin writes n bytes of body as STDIN records of request id and
// the empty record that ends the stream, copying through buf (whose size,
// up to MaxContent, sets the records' size). A body shorter than n is an
// error: the server was promised CONTENT_LENGTH bytes.
func WriteStdin(w io.Writer, id uint16, body io.Reader, n int64, buf []byte) error {
	if len(buf) < HeaderSize+16 {
		return errors.New("fastcgi: WriteStdin: buffer too small")
	}
	room := min(len(buf)-HeaderSize-8, MaxContent) &^ 7
	for n > 0 {
		chunk := int(min(int64(room), n))
		c, err := io.ReadFull(body, buf[HeaderSize:HeaderSize+chunk])
		if err != nil {
			return fmt.Errorf("fastcgi: body ended %d bytes short: %w", n-int64(c), err)
		}
		rec, pad := AppendHeader(buf[:0], TypeStdin, id, chunk)
		rec = rec[:HeaderSize+chunk]
		rec = append(rec, zeros[:pad]...)
		if _, err := w.Write(rec); err != nil {
			return err
		}
		n -= int64(chunk)
	}
	_, err := w.Write(AppendRecord(buf[:0], TypeStdin, id, nil))
	return err
}
