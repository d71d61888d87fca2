package transport

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
)

// maxResponseHead bounds an upstream's status line and header, as nginx's
// uwsgi_buffer_size does ("upstream sent too big header" → 502).
const maxResponseHead = 64 << 10

var errResponseHeadTooLarge = errors.New("upstream sent too big header")

// readResponse parses the response of a uwsgi (or CGI-style) server, as
// nginx accepts it: a status line ("HTTP/1.1 200 OK"), or else a "Status:"
// header ("Status: 404 Not Found"), or else a Location header (302), or
// else 200. The body is delimited by Content-Length, chunked encoding, or
// the end of the connection.
//
// It does the work of http.ReadResponse for the one shape of response this
// hop carries, without its general-purpose costs, because it runs on every
// proxied request.
//
// rh, if not nil, is where the response is made (the transport's body
// holds one: one allocation for both).
func readResponse(br *bufio.Reader, req *http.Request, rh *responseHead) (*http.Response, error) {
	if rh == nil {
		rh = new(responseHead)
	}
	// Interim responses (100 Continue, 103 Early Hints) precede the final
	// one (RFC 9110 §15.2). The client has no use for them here: the edge
	// sent the whole body already, and hints would need a second writer.
	// They are skipped, charged to the same budget, so a server cannot
	// stream them forever.
	budget := maxResponseHead
	for {
		err := readResponseHead(br, req, &budget, rh)
		if err != nil {
			return nil, err
		}
		if resp := &rh.resp; resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			if err := readResponseFraming(rh, br, req); err != nil {
				return nil, err
			}
			return resp, nil
		}
	}
}

// responseHead is a response with the slices of its first header values
// and its body's reader: one allocation where there were three.
type responseHead struct {
	resp   http.Response
	values [10]string
	clen   [1]string // a Content-Length the transport sets (closesSoon)
	exact  exactBody
	// pool: the header map is taken from headerMaps, and given back by
	// ReleaseHead when the request is done with the response (the uwsgi
	// transport's heads; pooled is the map taken).
	pool   bool
	pooled http.Header
}

// headerMaps holds the response header maps of finished requests, cleared:
// a map and its first group are two allocations a request otherwise.
var headerMaps = sync.Pool{New: func() any { return make(http.Header) }}

// pooledFields bounds a pooled map: a clear costs with the map's size.
const pooledFields = 16

// header returns an empty header map for a head of lines lines.
func (rh *responseHead) header(lines int) http.Header {
	if !rh.pool || lines > pooledFields {
		return make(http.Header, lines)
	}
	if rh.pooled == nil {
		rh.pooled = headerMaps.Get().(http.Header)
	} else {
		clear(rh.pooled) // an interim response's, read before this one
	}
	return rh.pooled
}

// release gives the pooled header map back; resp.Header is nil from then
// on (a late reader finds nothing rather than another request's fields).
func (rh *responseHead) release() {
	h := rh.pooled
	if h == nil {
		return
	}
	rh.pooled, rh.resp.Header = nil, nil
	if len(h) <= pooledFields {
		clear(h)
		headerMaps.Put(h)
	}
}

// readResponseHead reads one status line (or CGI-style Status header) and
// header into rh, charging them to budget.
func readResponseHead(br *bufio.Reader, req *http.Request, budget *int, rh *responseHead) error {
	// The head's lines are gathered and converted to one string, so that
	// every header name and value is a substring of it: one allocation for
	// the whole head instead of two per header.
	hp := headPool.Get().(*[]byte)
	defer headPool.Put(hp)
	head := (*hp)[:0]
	lines := 0
	for {
		line, err := readHeadLine(br, budget)
		if err != nil {
			if err == io.EOF && lines == 0 {
				return ErrNoResponse
			}
			return err
		}
		if len(line) == 0 {
			if lines == 0 {
				return errors.New("upstream sent an empty line for a status line")
			}
			break
		}
		head = append(append(head, line...), '\n')
		lines++
	}
	*hp = head

	text := string(head)
	resp := &rh.resp
	*resp = http.Response{Request: req, ProtoMajor: 1, ProtoMinor: 1, Proto: "HTTP/1.1", Header: rh.header(lines)}
	values := rh.values[:]
	if lines > len(rh.values) {
		values = make([]string, lines)
	}
	for i := 0; text != ""; i++ {
		line, rest, _ := strings.Cut(text, "\n")
		text = rest
		if i == 0 && strings.HasPrefix(line, "HTTP/") {
			if err := parseStatusLine(resp, line); err != nil {
				return err
			}
			continue
		}
		if err := addHeaderLine(resp.Header, line, &values); err != nil {
			return err
		}
	}

	h := resp.Header
	if resp.StatusCode == 0 {
		// No status line: CGI style.
		switch {
		case h.Get("Status") != "":
			s := h.Get("Status")
			code, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(s, " ", 2)[0]))
			if err != nil || code < 100 || code > 999 {
				return fmt.Errorf("upstream sent an invalid Status header %q", s)
			}
			resp.StatusCode = code
			delete(h, "Status")
		case h.Get("Location") != "":
			resp.StatusCode = http.StatusFound
		default:
			resp.StatusCode = http.StatusOK
		}
		resp.Status = strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)
	}
	return nil
}

// readResponseFraming sets resp's body by its framing.
func readResponseFraming(rh *responseHead, br *bufio.Reader, req *http.Request) error {
	resp := &rh.resp
	h := resp.Header
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// Only an answer to a request that asked to upgrade: a server
		// switching protocols unasked would take the connection over.
		// The bytes after the head are the new protocol's; the
		// transport hands the connection itself over as the body.
		if upgradeType(req.Header) == "" {
			return errors.New("upstream answered 101 Switching Protocols to a request that asked for no upgrade")
		}
		// Length 0, not -1: ReverseProxy writes this head with
		// Response.Write, which adds "Connection: close" to an unsized one.
		resp.ContentLength = 0
		resp.Body = http.NoBody
		return nil
	}

	resp.ContentLength = -1
	noBody := req.Method == http.MethodHead || resp.StatusCode < 200 ||
		resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified
	if te := h["Transfer-Encoding"]; len(te) > 0 {
		if len(te) != 1 || !strings.EqualFold(te[0], "chunked") {
			return fmt.Errorf("upstream sent unsupported Transfer-Encoding %q", te)
		}
		delete(h, "Transfer-Encoding")
		delete(h, "Content-Length")
		if !noBody {
			resp.Body = chunkedBody{httputil.NewChunkedReader(br)}
		}
	} else if cl := h["Content-Length"]; len(cl) > 0 {
		n, err := strconv.ParseInt(cl[0], 10, 64)
		if err != nil || n < 0 || cl[0][0] == '+' {
			return fmt.Errorf("upstream sent an invalid Content-Length %q", cl[0])
		}
		for _, v := range cl[1:] {
			if v != cl[0] {
				return fmt.Errorf("upstream sent conflicting Content-Length values %q", cl)
			}
		}
		h["Content-Length"] = cl[:1]
		resp.ContentLength = n
		if !noBody {
			rh.exact = exactBody{r: br, n: n}
			resp.Body = &rh.exact
		}
	} else if !noBody {
		resp.Body = untilClose{br} // ends when the server closes the connection
	}
	if noBody {
		resp.Body = http.NoBody
		if req.Method != http.MethodHead {
			resp.ContentLength = 0
		}
	}
	return nil
}

// readHeadLine returns one line without its CRLF, charging it to budget.
func readHeadLine(br *bufio.Reader, budget *int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, errResponseHeadTooLarge
	}
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if *budget -= len(line); *budget < 0 {
		return nil, errResponseHeadTooLarge
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

func parseStatusLine(resp *http.Response, line string) error {
	// HTTP/1.x SP 3DIGIT [SP reason]
	if len(line) < 12 || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return fmt.Errorf("upstream sent a malformed status line %q", line)
	}
	major, minor, ok := http.ParseHTTPVersion(line[:8])
	code, err := strconv.Atoi(line[9:12])
	if !ok || err != nil || code < 100 {
		return fmt.Errorf("upstream sent a malformed status line %q", line)
	}
	resp.ProtoMajor, resp.ProtoMinor = major, minor
	resp.Proto = line[:8]
	resp.StatusCode = code
	resp.Status = line[9:]
	return nil
}

// addHeaderLine adds "Name: value" to h, taking the value's one-element
// slice from values. Continuation lines (obsolete line folding) and names
// that are not tokens are errors, as in net/http.
func addHeaderLine(h http.Header, line string, values *[]string) error {
	colon := strings.IndexByte(line, ':')
	if colon <= 0 || line[0] == ' ' || line[0] == '\t' {
		return fmt.Errorf("upstream sent a malformed header line %q", truncate(line))
	}
	name := line[:colon]
	for i := 0; i < len(name); i++ {
		if c := name[i]; c >= 0x80 || !tokenByte[c] {
			return fmt.Errorf("upstream sent an invalid header name %q", truncate(name))
		}
	}
	value := strings.TrimSpace(line[colon+1:])
	if strings.ContainsAny(value, "\x00\r\n") {
		// Passed on, NUL breaks clients ("Nul byte in header") and CR
		// could split the response; nginx answers 502.
		return fmt.Errorf("upstream sent invalid header: %q has a NUL or CR in its value", truncate(name))
	}
	key := textproto.CanonicalMIMEHeaderKey(name) // no allocation when already canonical
	if prev, ok := h[key]; ok {
		h[key] = append(prev, value)
		return nil
	}
	v := (*values)[:1:1]
	*values = (*values)[1:]
	v[0] = value
	h[key] = v
	return nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}

var headPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

var tokenByte = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// exactBody reads exactly n bytes: a response that ends early is an error
// (io.ErrUnexpectedEOF), never a silently short body.
type exactBody struct {
	r *bufio.Reader
	n int64
}

func (b *exactBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.Read(p)
	b.n -= int64(n)
	if err == io.EOF && b.n > 0 {
		err = io.ErrUnexpectedEOF
	} else if err == nil && b.n == 0 {
		err = io.EOF
	}
	return n, err
}

func (b *exactBody) Close() error { return nil }

// untilClose is a body that ends when the server closes the connection.
type untilClose struct{ io.Reader }

func (untilClose) Close() error { return nil }

// chunkedBody is a chunked body, de-chunked; its end is the last chunk,
// before any trailer section.
type chunkedBody struct{ io.Reader }

func (chunkedBody) Close() error { return nil }
