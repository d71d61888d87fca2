package h1

import (
	"bufio"
	"io"
	"net/http"
	"net/url"
)

// The request head, read top to bottom: optional empty lines, the request
// line, header fields, an empty line. The rules are net/http's (what its
// handlers are used to: Host removed from Header and put in r.Host,
// absolute-form targets, Connection close/keep-alive) made strict where
// net/http is lenient and a proxy must not be (nginx's rules):
//
//   - a line ends with CRLF or LF; a CR anywhere else is refused;
//   - no obs-fold (a line starting with a space or tab), no whitespace
//     between a field name and its colon, names are tokens, values have
//     no control characters but HTAB;
//   - the framing that a less careful server behind could read another
//     way (Content-Length with Transfer-Encoding, several Content-Length
//     fields, Transfer-Encoding on HTTP/1.0) is not refused here but
//     reported as a Problem, which the handler answers and logs (so that
//     the refusal carries the request's line in the logs); the
//     connection closes after it;
//   - a head over the soft limits (Limits) is likewise a Problem (431, or
//     414 for a request line over a quarter of it); one over the hard
//     limit (MaxHeaderBytes) is refused by the server itself.

// Problem is what is wrong with a request's framing or size that the
// handler must refuse; see ProblemOf.
type Problem uint8

const (
	ProblemNone         Problem = iota
	ProblemCLandTE              // Content-Length together with Transfer-Encoding
	ProblemDuplicateCL          // more than one Content-Length field
	ProblemTEonHTTP10           // Transfer-Encoding on an HTTP/1.0 request
	ProblemLineTooLong          // request line over the soft line limit → 414
	ProblemHeadTooLarge         // head over the soft head limit → 431
)

// headError is a head the server refuses itself, with the status it
// answers.
type headError struct {
	status int
	reason string
}

func (e *headError) Error() string { return "h1: " + e.reason }

func badHead(reason string) error { return &headError{http.StatusBadRequest, reason} }

var (
	errHeadTooLarge = &headError{http.StatusRequestHeaderFieldsTooLarge, "request head too large"}
	errURITooLong   = &headError{http.StatusRequestURITooLong, "request line too long"}
)

// maxLeadingEmpty bounds the empty lines skipped before a request line
// (RFC 9112 2.2 asks to skip at least one).
const maxLeadingEmpty = 4

// head is the raw request head of one request and what parsing found.
type head struct {
	buf      []byte // request line and fields, each line without its end, end to end
	lines    []int  // end offsets in buf of each line
	headLen  int    // bytes of the head on the wire, line ends included
	lineLen  int    // bytes of the request line on the wire, line end included
	problem  Problem
	complete bool
	// hdr and slab are the last request's header map and value slices,
	// cleared and filled again by the next (parse): a request is done
	// with them when the next is read, or the connection was hijacked
	// and reads no more.
	hdr  http.Header
	slab []string
}

// keptFields bounds the header that is kept for the next request: the
// clear of a map costs with its size, and one large head must not tax
// every later request.
const keptFields = 32

func (h *head) reset() {
	if cap(h.buf) > 16<<10 {
		h.buf = nil // one huge head does not pin its buffer for the connection's life
	}
	h.buf, h.lines = h.buf[:0], h.lines[:0]
	h.headLen, h.lineLen, h.problem, h.complete = 0, 0, ProblemNone, false
}

// requestLine returns the start of the request line read so far (for the
// logs of a refused head), at most max bytes.
func (h *head) requestLine(max int) string {
	end := len(h.buf)
	if len(h.lines) > 0 {
		end = h.lines[0]
	}
	return string(h.buf[:min(end, max)])
}

// read reads one head from br into h. hard bounds its size on the wire (0:
// none); lineMax, if > 0, is the soft request line limit, by which a head
// over hard is told 414 rather than 431. A connection closed before the
// head's first byte is io.EOF.
func (h *head) read(br *bufio.Reader, hard, lineMax int) error {
	h.reset()
	empty, lineStart := 0, 0
	for {
		piece, err := br.ReadSlice('\n')
		h.headLen += len(piece)
		if len(h.lines) == 0 {
			h.lineLen += len(piece)
		}
		h.buf = append(h.buf, piece...)
		if hard > 0 && h.headLen > hard {
			return h.tooLarge(lineMax)
		}
		if err == bufio.ErrBufferFull {
			continue // a long line
		}
		if err != nil {
			if err == io.EOF && len(h.buf) > 0 {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		end := len(h.buf) - 1
		if end > lineStart && h.buf[end-1] == '\r' {
			end--
		}
		h.buf = h.buf[:end]
		if end > lineStart {
			h.lines = append(h.lines, end)
			lineStart = end
			continue
		}
		if len(h.lines) > 0 {
			h.complete = true
			return nil
		}
		// An empty line before the request line: skipped, and not part
		// of the head.
		if empty++; empty > maxLeadingEmpty {
			return badHead("empty lines before the request line")
		}
		h.headLen, h.lineLen = 0, 0
	}
}

func (h *head) tooLarge(lineMax int) error {
	if len(h.lines) == 0 && lineMax > 0 && h.lineLen > lineMax {
		return errURITooLong
	}
	return errHeadTooLarge
}

// parse builds the request from a complete head. It sets what the head
// says; the body and context are the connection's.
func (h *head) parse(r *http.Request, soft, lineMax int) error {
	s := string(h.buf) // one allocation; every string of the request is a part of it
	start := 0
	line := func(i int) string {
		l := s[start:h.lines[i]]
		start = h.lines[i]
		return l
	}
	rl := line(0)
	method, rest, ok1 := cut(rl, ' ')
	target, proto, ok2 := cut(rest, ' ')
	if !ok1 || !ok2 {
		return badHead("malformed request line")
	}
	if !validToken(method) {
		return badHead("invalid method")
	}
	r.Method = commonMethod(method)
	r.RequestURI = target
	switch proto {
	case "HTTP/1.1":
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	case "HTTP/1.0":
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.0", 1, 0
	default:
		major, minor, ok := http.ParseHTTPVersion(proto)
		if !ok || len(proto) > 16 {
			return badHead("malformed HTTP version")
		}
		if major != 1 {
			return &headError{http.StatusHTTPVersionNotSupported, "unsupported HTTP version"}
		}
		r.Proto, r.ProtoMajor, r.ProtoMinor = proto, major, minor
	}
	u, err := parseTarget(r.Method, target, r.URL)
	if err != nil {
		return badHead("malformed request target")
	}
	r.URL = u

	n := len(h.lines) - 1
	hdr, slab := h.hdr, h.slab
	if n > keptFields {
		hdr, slab = make(http.Header, n), make([]string, n) // the fields' value slices, one allocation
	} else {
		if hdr == nil || len(hdr) > 2*keptFields { // a handler may add fields: the map it grew is not kept
			// No size hint: a map sized for keptFields costs its size at
			// every clear; one grown to the connection's requests does not.
			hdr, slab = make(http.Header), make([]string, keptFields)
			h.hdr, h.slab = hdr, slab
		}
		clear(hdr)
		slab = slab[:n]
	}
	for i := 1; i <= n; i++ {
		l := line(i)
		if l[0] == ' ' || l[0] == '\t' {
			return badHead("obsolete line folding")
		}
		colon := indexByte(l, ':')
		if colon <= 0 {
			return badHead("malformed header line")
		}
		name := l[:colon]
		if !validToken(name) {
			// Includes whitespace before the colon.
			return badHead("invalid header name")
		}
		value := trimOWS(l[colon+1:])
		if !validValue(value) {
			return badHead("invalid header value")
		}
		key := canonicalKey(name)
		slab[i-1] = value
		if vv, ok := hdr[key]; ok {
			hdr[key] = append(vv, value)
		} else {
			hdr[key] = slab[i-1 : i : i]
		}
	}
	r.Header = hdr

	hosts, haveHost := hdr["Host"]
	if len(hosts) > 1 {
		return badHead("too many Host headers")
	}
	if r.ProtoMinor >= 1 && !haveHost && r.Method != http.MethodConnect {
		return badHead("missing required Host header")
	}
	if haveHost && !validHost(hosts[0]) {
		return badHead("malformed Host header")
	}
	r.Host = r.URL.Host
	if r.Host == "" && haveHost {
		r.Host = hosts[0]
	}
	delete(hdr, "Host")
	if pragma, ok := hdr["Pragma"]; ok && len(pragma) > 0 && pragma[0] == "no-cache" {
		if _, ok := hdr["Cache-Control"]; !ok {
			hdr["Cache-Control"] = []string{"no-cache"}
		}
	}
	conn := hdr["Connection"]
	hasClose := containsToken(conn, "close")
	if r.ProtoMinor == 0 {
		r.Close = hasClose || !containsToken(conn, "keep-alive")
	} else {
		r.Close = hasClose
	}

	switch {
	case lineMax > 0 && h.lineLen > lineMax:
		h.problem = ProblemLineTooLong
	case soft > 0 && h.headLen > soft:
		h.problem = ProblemHeadTooLarge
	}
	return h.framing(r)
}

// framing sets the request's ContentLength and TransferEncoding from its
// header, as net/http's readTransfer, and notes the ambiguous cases.
func (h *head) framing(r *http.Request) error {
	hdr := r.Header
	te, haveTE := hdr["Transfer-Encoding"]
	cls := hdr["Content-Length"]
	problem := ProblemNone
	switch {
	case haveTE && r.ProtoMinor == 0:
		problem = ProblemTEonHTTP10
	case haveTE && len(cls) > 0:
		problem = ProblemCLandTE
	case len(cls) > 1:
		problem = ProblemDuplicateCL
	}
	if h.problem == ProblemNone {
		h.problem = problem
	}
	if problem != ProblemNone {
		r.Close = true
	}
	if haveTE && r.ProtoMinor > 0 {
		if len(te) != 1 || !equalFold(te[0], "chunked") {
			return &headError{http.StatusNotImplemented, "unsupported transfer encoding"}
		}
		delete(hdr, "Content-Length")
		delete(hdr, "Transfer-Encoding")
		r.TransferEncoding = chunkedTE
		r.ContentLength = -1
		return nil
	}
	delete(hdr, "Transfer-Encoding")
	if len(cls) == 0 {
		r.ContentLength = 0
		return nil
	}
	n, ok := parseContentLength(cls[0])
	if !ok {
		return badHead("invalid Content-Length")
	}
	for _, v := range cls[1:] {
		if m, ok := parseContentLength(v); !ok || m != n {
			return badHead("differing Content-Length values")
		}
	}
	if len(cls) > 1 {
		hdr["Content-Length"] = cls[:1]
	}
	r.ContentLength = n
	return nil
}

var chunkedTE = []string{"chunked"}

// parseContentLength accepts decimal digits only (no sign, no spaces), at
// most 18 of them: no overflow.
func parseContentLength(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseTarget parses a request target as net/http does, with a fast path
// for an origin-form path of plain characters (no escapes), the usual case,
// which parses into *into if it is not nil.
func parseTarget(method, target string, into *url.URL) (*url.URL, error) {
	if len(target) > 0 && target[0] == '/' {
		path, query, hasQuery := cut(target, '?')
		if plainPath(path) && noCTL(query) && indexByte(query, '#') < 0 {
			if into == nil {
				into = new(url.URL)
			}
			*into = url.URL{Path: path, RawQuery: query, ForceQuery: hasQuery && query == ""}
			return into, nil
		}
	}
	if method == http.MethodConnect && (target == "" || target[0] != '/') {
		u, err := url.ParseRequestURI("http://" + target)
		if err != nil {
			return nil, err
		}
		u.Scheme = ""
		return u, nil
	}
	return url.ParseRequestURI(target)
}

// plainPath reports whether p is made of characters that url.URL keeps as
// they are in a path, so that Path is p and RawPath is empty.
func plainPath(p string) bool {
	for i := 0; i < len(p); i++ {
		if !pathSafe[p[i]] {
			return false
		}
	}
	return true
}

var pathSafe = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-_.~$&+,/:;=@" {
		t[c] = true
	}
	return
}()

func noCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}
