// Package framing follows HTTP/1.1 message framing on a connection that
// net/http serves (HTTP/1.1 over TLS: plain HTTP is served by
// edge/internal/h1, whose parser gives the same verdicts), so the edge can
// refuse what net/http would let through: one verdict per request head, in
// order, and net/http's own refusals of a head logged (the edge's
// headguard.Guard, edge/internal/headguard, gives the limits and does the logging).
package framing

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"strconv"
	"sync"

	"github.com/stack-web/stack/edge/internal/h1"
)

// Plain HTTP connections are served by the edge's own HTTP/1.1 server
// (edge/internal/h1), whose parser gives these verdicts as it reads each
// head. What follows is for HTTP/1.1 over TLS, which net/http serves:
//
// Go's HTTP/1.1 server accepts a request with both Content-Length and
// Transfer-Encoding: chunked (it drops the length and de-chunks), and one
// with two equal Content-Length fields, and by the time a handler runs the
// evidence is gone. nginx answers both with 400, and so must the edge: such
// a request is either broken or an attempt at smuggling, and a worker
// behind a less careful proxy would disagree with us about where it ends.
//
// Conn watches the bytes the server reads and follows HTTP/1.1
// message framing exactly as net/http does (head, then a Content-Length or
// chunked body), recording one verdict per request head in order. The
// handler for the n-th request on the connection takes the n-th verdict.
// Anything the tracker does not understand stops it (every later verdict
// is "fine"): Go's own parser still rejects what is truly malformed, so the
// tracker can only add refusals that are certain, never lose requests.

// Verdict is what the tracker saw in one request head.
type Verdict uint8

const (
	OK           Verdict = iota
	CLandTE              // Content-Length together with Transfer-Encoding
	DuplicateCL          // more than one Content-Length field
	TEonHTTP10           // Transfer-Encoding on an HTTP/1.0 request
	LineTooLong          // request line over max_header_size/4 → 414
	HeadTooLarge         // request line and header over max_header_size → 431
	ObsFold              // a header line folded onto the one before (obs-fold)
)

// status is the answer to a request with this verdict.
func (v Verdict) Status() int {
	switch v {
	case OK:
		return 0
	case LineTooLong:
		return 414
	case HeadTooLarge:
		return 431
	}
	return 400
}

func (v Verdict) String() string {
	switch v {
	case CLandTE:
		return "both Content-Length and Transfer-Encoding"
	case DuplicateCL:
		return "duplicate Content-Length"
	case TEonHTTP10:
		return "Transfer-Encoding in an HTTP/1.0 request"
	case LineTooLong:
		return "request line longer than max_header_size/4"
	case HeadTooLarge:
		return "request head larger than max_header_size"
	case ObsFold:
		return "a folded header line (obs-fold)"
	}
	return "ok"
}

type phase uint8

const (
	inHead phase = iota
	inBody
	inChunkSize
	inChunkData
	inChunkCRLF
	inTrailer
	lost // the tracker gave up; verdicts are all OK from here
)

// maxTrackedLine bounds the line buffer; a longer head line is rejected by
// the server (431), so the tracker need not follow it.
const maxTrackedLine = 64 << 10

type Conn struct {
	net.Conn
	guard Guard // limits on heads, and the log for refusals; nil: none

	mu       sync.Mutex
	state    phase
	line     []byte // a partial line carried over between reads
	skipping bool   // inside an over-long head line: counted, not kept
	first    bool   // the next head line is a request line
	headLen  int    // bytes of the current head so far, line ends included
	lineLen  int    // bytes of the current request line
	reqLine  []byte // the start of the request line, for the access log
	prevLine []byte // reqLine of the last complete head
	http10   bool
	fold     bool // a line of this head began with a space or tab
	badCL    bool // a Content-Length Go rejects, unless a fold completes it
	nCL      int
	te       bool
	cl       int64
	remain   int64 // body or chunk bytes still to skip
	verdicts []Verdict
	tls      *tls.ConnectionState // over TLS (HTTP/1.1): the handshake's outcome, for r.TLS
}

// Guard gives a Conn its limits on heads and logs the heads net/http
// refuses itself (edge/internal/headguard).
type Guard interface {
	// Limits returns the head limit and the request line limit (0: none).
	Limits() (head, line int)
	// RefusedByServer logs a head the server refused itself.
	RefusedByServer(c net.Conn, requestLine string, status int, bodyBytes int64)
}

// NewConn tracks the requests read from c, under g's limits (nil: none);
// tlsState is the handshake's outcome over TLS (nil: none), for r.TLS.
func NewConn(c net.Conn, g Guard, tlsState *tls.ConnectionState) *Conn {
	return &Conn{Conn: c, first: true, guard: g, tls: tlsState}
}

// TLS is the handshake's outcome when the connection is over TLS, else nil.
func (c *Conn) TLS() *tls.ConnectionState { return c.tls }

// maxLoggedLine bounds the part of a request line kept for the access log
// of a request that net/http refuses itself.
const maxLoggedLine = 2 << 10

func (c *Conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		if c.state != lost {
			c.track(p[:n])
		}
		c.mu.Unlock()
	}
	return n, err
}

// ReadFrom lets net/http send a file with sendfile(2): it copies a
// response body through the connection's io.ReaderFrom, which the
// embedded net.Conn alone would hide. Writes are not tracked.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// CloseWrite half-closes the connection, as net/http does to a bare
// *net.TCPConn before closing it (so a client still sending reads the
// answer), and as the lingering close does.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// next returns the verdict for the next request on the connection.
func (c *Conn) next() Verdict {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.verdicts) == 0 {
		return OK
	}
	v := c.verdicts[0]
	c.verdicts = c.verdicts[1:]
	return v
}

// track advances the state machine over b.
func (c *Conn) track(b []byte) {
	for len(b) > 0 && c.state != lost {
		switch c.state {
		case inBody, inChunkData:
			k := int64(len(b))
			if k > c.remain {
				k = c.remain
			}
			b = b[k:]
			c.remain -= k
			if c.remain == 0 {
				if c.state == inBody {
					c.startHead()
				} else {
					c.state = inChunkCRLF
				}
			}
		default:
			i := bytes.IndexByte(b, '\n')
			piece := b
			if i >= 0 {
				piece = b[:i+1]
			}
			if c.state == inHead {
				c.count(piece)
			}
			if c.skipping {
				b = b[len(piece):]
				if i >= 0 {
					c.skipping = false
					c.onSkippedLine()
				}
				continue
			}
			if i < 0 {
				if len(c.line)+len(b) > maxTrackedLine {
					if c.state != inHead || !c.over() {
						c.state = lost
						return
					}
					// The head is refused whatever this line says:
					// count the rest of it, keep nothing.
					c.skipping, c.line = true, c.line[:0]
					return
				}
				c.line = append(c.line, b...)
				return
			}
			line := b[:i]
			if len(c.line) > 0 {
				c.line = append(c.line, line...)
				line = c.line
			}
			b = b[i+1:]
			c.onLine(bytes.TrimSuffix(line, []byte{'\r'}))
			c.line = c.line[:0]
		}
	}
}

func (c *Conn) startHead() {
	c.state = inHead
	c.first = true
	c.http10, c.te, c.nCL, c.cl, c.fold, c.badCL = false, false, 0, 0, false, false
	c.headLen, c.lineLen, c.reqLine = 0, 0, c.reqLine[:0]
}

// count charges a piece of a head line (up to and including its '\n') to
// the head, and to the request line while that is being read.
func (c *Conn) count(piece []byte) {
	c.headLen += len(piece)
	if c.first {
		c.lineLen += len(piece)
		if n := min(len(piece), maxLoggedLine-len(c.reqLine)); n > 0 {
			c.reqLine = append(c.reqLine, piece[:n]...)
		}
	}
}

// over reports whether the current head is already over a limit.
func (c *Conn) over() bool {
	if c.guard == nil {
		return false
	}
	maxHead, maxLine := c.guard.Limits()
	return maxLine > 0 && c.lineLen > maxLine || maxHead > 0 && c.headLen > maxHead
}

// onSkippedLine ends an over-long line that was counted but not kept.
func (c *Conn) onSkippedLine() {
	if c.first {
		c.first = false
	}
}

func (c *Conn) onLine(line []byte) {
	switch c.state {
	case inHead:
		c.onHeadLine(line)
	case inChunkSize:
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseUint(string(bytes.TrimSpace(line)), 16, 63)
		if err != nil {
			c.state = lost
			return
		}
		if size == 0 {
			c.state = inTrailer
		} else {
			c.state, c.remain = inChunkData, int64(size)
		}
	case inChunkCRLF:
		if len(line) != 0 {
			c.state = lost
			return
		}
		c.state = inChunkSize
	case inTrailer:
		if len(line) == 0 {
			c.startHead()
		}
	}
}

func (c *Conn) onHeadLine(line []byte) {
	if c.first {
		if len(line) == 0 {
			// Empty lines before a request line are skipped, and not
			// counted as part of the head.
			c.headLen, c.lineLen, c.reqLine = 0, 0, c.reqLine[:0]
			return
		}
		c.first = false
		c.http10 = bytes.HasSuffix(line, []byte(" HTTP/1.0"))
		return
	}
	if len(line) == 0 {
		c.endHead()
		return
	}
	if line[0] == ' ' || line[0] == '\t' {
		// net/http joins it to the line before (RFC 9112 §5.2 lets a
		// server do so, or refuse with 400); nginx refuses it, as h1's
		// parser does over plain HTTP, and a worker behind a less careful
		// proxy may read the two lines otherwise.
		c.fold = true
		return
	}
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		return
	}
	name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
	switch {
	case asciiEqualFold(name, "content-length"):
		c.nCL++
		n, err := strconv.ParseInt(string(value), 10, 64)
		if err != nil || n < 0 {
			c.badCL = true // Go rejects it, unless a fold completes it ("Content-Length:", " 5")
			return
		}
		c.cl = n
	case asciiEqualFold(name, "transfer-encoding"):
		c.te = true
	}
}

func (c *Conn) endHead() {
	if c.badCL && !c.fold {
		c.state = lost // Go rejects the head and closes the connection
		return
	}
	v := OK
	var maxHead, maxLine int
	if c.guard != nil {
		maxHead, maxLine = c.guard.Limits()
	}
	switch {
	case maxLine > 0 && c.lineLen > maxLine:
		v = LineTooLong
	case maxHead > 0 && c.headLen > maxHead:
		v = HeadTooLarge
	case c.te && c.http10:
		v = TEonHTTP10
	case c.te && c.nCL > 0:
		v = CLandTE
	case c.nCL > 1:
		v = DuplicateCL
	case c.fold:
		v = ObsFold
	}
	c.verdicts = append(c.verdicts, v)
	c.prevLine, c.reqLine = c.reqLine, c.prevLine[:0]
	switch {
	case c.fold:
		// The edge refuses it with Connection: close (or Go rejects
		// it): nothing follows to track, and a folded length is Go's.
		c.state = lost
	case c.te && !c.http10:
		// Go accepts only "chunked" and closes the connection otherwise.
		c.state = inChunkSize
	case c.nCL > 0 && c.cl > 0:
		c.state, c.remain = inBody, c.cl
	default:
		c.startHead()
	}
}

func asciiEqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

type ctxKey struct{}

// ConnContext is the http.Server's ConnContext: it makes the
// connection's tracker reachable from each request.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if fc, ok := c.(*Conn); ok {
		return context.WithValue(ctx, ctxKey{}, fc)
	}
	return ctx
}

// FromContext returns the tracker of the connection a request's context
// is from, or nil.
func FromContext(ctx context.Context) *Conn {
	fc, _ := ctx.Value(ctxKey{}).(*Conn)
	return fc
}

// RequestFraming returns the verdict for the request whose context is ctx.
// It must be called exactly once per request, in order. A plain
// connection's request was checked by h1's parser as it read it.
func RequestFraming(ctx context.Context) Verdict {
	if fc, ok := ctx.Value(ctxKey{}).(*Conn); ok {
		return fc.next()
	}
	return h1Verdicts[h1.ProblemOf(ctx)]
}

// h1Verdicts are the verdicts for h1's problems.
var h1Verdicts = [...]Verdict{
	h1.ProblemNone:         OK,
	h1.ProblemCLandTE:      CLandTE,
	h1.ProblemDuplicateCL:  DuplicateCL,
	h1.ProblemTEonHTTP10:   TEonHTTP10,
	h1.ProblemLineTooLong:  LineTooLong,
	h1.ProblemHeadTooLarge: HeadTooLarge,
}
