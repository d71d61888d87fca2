// Package uwsgi implements the uwsgi wire protocol: the request packet that a
// web server (nginx's uwsgi_pass, or this project's edge) sends to an
// application server (uWSGI, or this project's appserver).
//
// A request packet is a 4-byte header, a block of variables, then the body:
//
//	uint8      modifier1   0 for a WSGI/HTTP request
//	uint16 LE  datasize    length of the vars block (the body is not counted)
//	uint8      modifier2   0
//	vars       repeated {uint16 LE key length, key, uint16 LE value length, value}
//	body       exactly CONTENT_LENGTH bytes, with no framing of its own
//
// The answer is a raw HTTP/1.x response that ends when the connection closes;
// there is one request per connection. Nothing after the body is ever read as
// another packet: with persistent connections an unread body parsed as a
// second packet is how uWSGI got a remote code execution (unbit/uwsgi#2336).
//
// This project's edge and appserver negotiate more, in a way that a real
// nginx or uWSGI never sees (VarKeepAlive, KeepAliveHeader): a connection
// then carries another request only after a response with an explicit end
// and a body consumed to its last declared byte.
//
// The variables are CGI meta-variables (REQUEST_METHOD, PATH_INFO, HTTP_HOST,
// ...); request.go converts them to and from *http.Request. Variables such as
// UWSGI_FILE or UWSGI_SCHEME are plain data to this package: nothing here
// loads code or changes behaviour because a peer sent them.
package uwsgi

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

const (
	// HeaderSize is the size of the fixed packet header.
	HeaderSize = 4

	// DefaultBufferSize is the largest vars block accepted by default, as
	// uWSGI's buffer-size option.
	DefaultBufferSize = 4096

	// MaxBufferSize is the largest vars block the 16-bit size field can describe.
	MaxBufferSize = 65535

	// MaxVars bounds the number of variables in one packet. With a 64 KiB
	// block a peer could otherwise send 16,383 empty pairs.
	MaxVars = 1000
)

// Keep-alive between this project's edge and appserver.
const (
	// VarKeepAlive=1 in a request asks the server to keep the connection
	// for another request. It is sent with STACK_RESPONSE_FRAMING=chunked,
	// so that every response has an explicit end. Other servers ignore it.
	VarKeepAlive = "STACK_KEEPALIVE"
	// KeepAliveHeader in a response says the server will read another
	// request on the connection once this response is complete. The edge
	// removes it; a server that never sends it has its connection closed
	// after each response, as uwsgi has it.
	KeepAliveHeader = "X-Stack-Keepalive"
)

// Modifier1 values this package understands (uwsgi-docs Protocol.rst).
const (
	// ModifierWSGI is a standard request with CGI variables; nginx's default.
	ModifierWSGI = 0
	// ModifierWSGIStripScriptName is ModifierWSGI with SCRIPT_NAME removed
	// from the front of PATH_INFO by the server.
	ModifierWSGIStripScriptName = 30
)

// Errors returned by ReadPacket. They are wrapped with detail; test with
// errors.Is.
var (
	// ErrBlockTooLarge: the header announces a vars block larger than the
	// configured buffer size.
	ErrBlockTooLarge = errors.New("uwsgi: vars block too large")
	// ErrTruncated: the connection ended inside the header or the vars block.
	ErrTruncated = errors.New("uwsgi: truncated packet")
	// ErrMalformed: the vars block is not a well-formed sequence of pairs.
	ErrMalformed = errors.New("uwsgi: malformed vars block")
	// ErrModifier: modifier1 is not a request type this package serves.
	ErrModifier = errors.New("uwsgi: unsupported modifier1")
)

// Var is one variable of a packet.
type Var struct {
	Key, Value string
}

// Vars is the ordered list of a packet's variables. Packets hold a few dozen
// variables, so a slice with a linear Get is faster than a map and keeps the
// order in which the peer sent them.
type Vars []Var

// Get returns the value of key and whether it is present.
func (vs Vars) Get(key string) (string, bool) {
	for i := range vs {
		if vs[i].Key == key {
			return vs[i].Value, true
		}
	}
	return "", false
}

// Value returns the value of key, or "" when it is absent.
func (vs Vars) Value(key string) string {
	v, _ := vs.Get(key)
	return v
}

// Packet is a decoded request packet without its body.
type Packet struct {
	Modifier1 uint8
	Modifier2 uint8
	Vars      Vars
}

// ReadPacket reads a packet header and its vars block from br, accepting a
// block of at most maxSize bytes (0 means DefaultBufferSize). The variables
// are appended to vars[:0], so a server can reuse one slice per connection.
// The body, if any, is left unread in br.
//
// Every length is checked against the bytes that remain. A duplicate key is
// an error (see repeatable for the header fields that may repeat). An error means the connection must not be used
// for anything but an error response: the reader's position is undefined.
func ReadPacket(br *bufio.Reader, maxSize int, vars Vars) (Packet, error) {
	if maxSize <= 0 {
		maxSize = DefaultBufferSize
	}
	maxSize = min(maxSize, MaxBufferSize)

	hdr, err := br.Peek(HeaderSize)
	if err != nil {
		if len(hdr) == 0 && err == io.EOF {
			return Packet{}, io.EOF // a peer that connected and closed: not a protocol error
		}
		return Packet{}, fmt.Errorf("%w: header: got %d of %d bytes: %v", ErrTruncated, len(hdr), HeaderSize, err)
	}
	p := Packet{Modifier1: hdr[0], Modifier2: hdr[3]}
	size := int(binary.LittleEndian.Uint16(hdr[1:3]))
	if _, err := br.Discard(HeaderSize); err != nil {
		return Packet{}, err
	}
	if p.Modifier1 != ModifierWSGI && p.Modifier1 != ModifierWSGIStripScriptName {
		// 'G' (71) is the first byte of "GET ": somebody spoke HTTP to the socket.
		return p, fmt.Errorf("%w: %d (modifier2 %d, size %d)%s", ErrModifier, p.Modifier1, p.Modifier2, size, httpHint(hdr))
	}
	if size > maxSize {
		return p, fmt.Errorf("%w: invalid request block size: %d (max %d)%s", ErrBlockTooLarge, size, maxSize, httpHint(hdr))
	}

	// Convert the block to one string so every key and value is a substring
	// of it: one allocation per packet instead of two per variable.
	var block string
	if size <= br.Size() {
		b, err := br.Peek(size)
		if err != nil {
			return p, fmt.Errorf("%w: vars block: got %d of %d bytes: %v", ErrTruncated, len(b), size, err)
		}
		block = string(b)
		br.Discard(size)
	} else {
		b := make([]byte, size)
		if n, err := io.ReadFull(br, b); err != nil {
			return p, fmt.Errorf("%w: vars block: got %d of %d bytes: %v", ErrTruncated, n, size, err)
		}
		block = string(b)
	}
	p.Vars, err = ParseVars(block, vars[:0])
	return p, err
}

// httpHint explains the most common misconfiguration: an HTTP client or
// proxy_pass pointed at a uwsgi socket. uWSGI logs "invalid request block
// size: 21573", which is "ET" read as a little-endian uint16.
func httpHint(hdr []byte) string {
	if len(hdr) >= 4 && hdr[0] >= 'A' && hdr[0] <= 'Z' && hdr[1] >= 'A' && hdr[1] <= 'Z' {
		return fmt.Sprintf(" (the peer sent %q: is it speaking HTTP to a uwsgi socket?)", hdr[:4])
	}
	return ""
}

// ParseVars decodes a vars block, appending to dst. Keys and values are
// substrings of block.
func ParseVars(block string, dst Vars) (Vars, error) {
	for off := 0; off < len(block); {
		key, next, err := parseString(block, off, "key", "")
		if err != nil {
			return dst, err
		}
		if key == "" {
			return dst, fmt.Errorf("%w: empty key at offset %d", ErrMalformed, off)
		}
		val, next, err := parseString(block, next, "value of ", key)
		if err != nil {
			return dst, err
		}
		if len(dst) == MaxVars {
			return dst, fmt.Errorf("%w: more than %d variables", ErrMalformed, MaxVars)
		}
		if !repeatable(key) {
			if _, dup := dst.Get(key); dup {
				return dst, fmt.Errorf("%w: duplicate key %q", ErrMalformed, key)
			}
		}
		dst = append(dst, Var{key, val})
		off = next
	}
	return dst, nil
}

// repeatable reports whether key may occur more than once in a packet:
// a header field repeated by the client. nginx before 1.23 sends each
// repeated header line as its own HTTP_* variable (later versions join
// them with ", "). Every other variable, and HTTP_HOST, must be unique: two
// REQUEST_METHODs or CONTENT_LENGTHs are an attempt to confuse whoever
// reads the first and whoever reads the last.
func repeatable(key string) bool {
	return len(key) > 5 && key[:5] == "HTTP_" && key != "HTTP_HOST" &&
		key != "HTTP_CONTENT_LENGTH" && key != "HTTP_TRANSFER_ENCODING"
}

// parseString reads one uint16-length-prefixed string at off. what and key
// name it in errors; they are separate so that the success path does not
// build a string.
func parseString(block string, off int, what, key string) (s string, next int, err error) {
	if len(block)-off < 2 {
		return "", 0, fmt.Errorf("%w: %s%.64s length at offset %d overruns the block (%d bytes)", ErrMalformed, what, key, off, len(block))
	}
	n := int(block[off]) | int(block[off+1])<<8
	off += 2
	if n > len(block)-off {
		return "", 0, fmt.Errorf("%w: %s%.64s of %d bytes at offset %d overruns the block (%d bytes)", ErrMalformed, what, key, n, off, len(block))
	}
	return block[off : off+n], off + n, nil
}

// Encoder builds a request packet's header and vars block in a byte slice
// that the caller owns and may reuse: Reset, Add variables, then Bytes.
type Encoder struct {
	buf []byte
	err error
}

// Reset starts a new packet with the given modifiers, reusing buf's storage.
func (e *Encoder) Reset(buf []byte, modifier1, modifier2 uint8) {
	e.buf = append(buf[:0], modifier1, 0, 0, modifier2)
	e.err = nil
}

// Add appends one variable.
func (e *Encoder) Add(key, value string) {
	if len(key) > MaxBufferSize || len(value) > MaxBufferSize {
		e.setErr(fmt.Errorf("uwsgi: variable %.64q is %d bytes, over the protocol's 65535", key, len(key)+len(value)))
		return
	}
	// One grow and copies by index, not four appends: this runs some
	// twenty times a proxied request.
	b := e.extend(4 + len(key) + len(value))
	b[0], b[1] = byte(len(key)), byte(len(key)>>8)
	k := 2 + copy(b[2:], key)
	b[k], b[k+1] = byte(len(value)), byte(len(value)>>8)
	copy(b[k+2:], value)
}

// extend grows the packet by n bytes and returns them.
func (e *Encoder) extend(n int) []byte {
	l := len(e.buf)
	if cap(e.buf)-l < n {
		e.buf = slices.Grow(e.buf, n)
	}
	e.buf = e.buf[:l+n]
	return e.buf[l:]
}

// AddHeader appends a header as the CGI variable HTTP_<NAME>, with the name
// upper-cased and '-' turned into '_', as nginx does. It does not allocate.
func (e *Encoder) AddHeader(name, value string) {
	n := 5 + len(name)
	if n > MaxBufferSize || len(value) > MaxBufferSize {
		e.setErr(fmt.Errorf("uwsgi: header %.64q is %d bytes, over the protocol's 65535", name, n+len(value)))
		return
	}
	b := e.extend(4 + n + len(value))
	b[0], b[1] = byte(n), byte(n>>8)
	copy(b[2:], "HTTP_")
	d := b[7 : 7+len(name)]
	for i := range d {
		d[i] = cgiName[name[i]]
	}
	k := 2 + n
	b[k], b[k+1] = byte(len(value)), byte(len(value)>>8)
	copy(b[k+2:], value)
}

// cgiName maps a header name's byte to its CGI variable's: upper case,
// '_' for '-'.
var cgiName = func() (t [256]byte) {
	for i := range t {
		c := byte(i)
		switch {
		case c == '-':
			c = '_'
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		t[i] = c
	}
	return t
}()

func (e *Encoder) setErr(err error) {
	if e.err == nil {
		e.err = err
	}
}

// Bytes completes the header and returns the packet (header and vars). It
// fails when a variable was too long or the block exceeds maxSize bytes, the
// receiver's buffer size (0 means MaxBufferSize): better a clear error here
// than a dropped connection there.
func (e *Encoder) Bytes(maxSize int) ([]byte, error) {
	if e.err != nil {
		return nil, e.err
	}
	if maxSize <= 0 || maxSize > MaxBufferSize {
		maxSize = MaxBufferSize
	}
	size := len(e.buf) - HeaderSize
	if size > maxSize {
		return nil, fmt.Errorf("%w: request needs a vars block of %d bytes (max %d)", ErrBlockTooLarge, size, maxSize)
	}
	binary.LittleEndian.PutUint16(e.buf[1:3], uint16(size))
	return e.buf, nil
}
