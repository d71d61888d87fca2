package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stack-web/stack/edge/upstream/internal/unixconn"
	"github.com/stack-web/stack/fastcgi"
)

// FastCGITransport is an http.RoundTripper that sends each request to one
// FastCGI server (PHP-FPM, a Go program on net/http/fcgi) over a new
// connection, as nginx's fastcgi_pass does with the stock fastcgi_params:
// the same CGI variables in the same order, and SCRIPT_FILENAME as
// fastcgi.conf sets it ($document_root$fastcgi_script_name).
//
// The path is split as Debian's snippets/fastcgi-php.conf splits it
// (fastcgi_split_path_info ^(.+?\.php)(/.*)$): /index.php/a/b runs
// /index.php with PATH_INFO /a/b and PATH_TRANSLATED ROOT/a/b. A path
// ending in / gets Index (fastcgi_index) appended to its script name.
//
// The response is read from the STDOUT records as a CGI response (a
// "Status:" header, or a status line, or 200), bounded at 64 KiB of head
// as over uwsgi; STDERR records are logged as nginx logs them ("FastCGI
// sent in stderr"); the END_REQUEST record ends the body, so a connection
// that closes before it is a broken response, never a complete one.
type FastCGITransport struct {
	// Network and Address locate the server: ("unix", "run/php.sock") or
	// ("tcp", "127.0.0.1:9000").
	Network, Address string
	// ConnectTimeout, ReadTimeout and SendTimeout as UwsgiTransport's.
	ConnectTimeout, ReadTimeout, SendTimeout time.Duration
	// Root is DOCUMENT_ROOT, without a trailing slash.
	Root string
	// ScriptFilename, if set, is SCRIPT_FILENAME for every request (a
	// front controller); else it is Root + the script name.
	ScriptFilename string
	// Index is appended to a script name ending in / (fastcgi_index).
	Index string
	// SplitPathInfo splits the path into the script name and PATH_INFO
	// with its two groups; nil or no match: the whole path is the script.
	SplitPathInfo *regexp.Regexp
	// CheckScript: a script that is not a regular file under Root gets
	// 404 from the edge, without a connection (scriptMissing,
	// fastcgi_script.go).
	CheckScript bool
	// Logger receives the server's STDERR; nil discards it.
	Logger *slog.Logger
}

var _ http.RoundTripper = (*FastCGITransport)(nil)

// fcgiRequestID is the id of the one request on each connection.
const fcgiRequestID = 1

// fcgiPad is zeros for padding and room.
var fcgiPad [8]byte

// maxStderrLogged bounds what one STDERR record puts in the log, and
// maxStderrRequest what one request's records put there together (each
// record charged at least stderrLineCost, a log line's own size): a
// script that loops on error_log must not fill the edge's disk.
const (
	maxStderrLogged  = 8 << 10
	maxStderrRequest = 64 << 10
	stderrLineCost   = 256
)

var (
	fcgiRecordReaders = sync.Pool{New: func() any { return fastcgi.NewReader(nil, fcgiRequestID) }}
	fcgiStdinBuffers  = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
	// The records are read through a buffer: a small answer's records
	// (its STDOUT, the empty one that ends it, END_REQUEST) mostly come
	// in one packet, which is then one read instead of two a record.
	fcgiConnReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 16<<10) }}
)

// RoundTrip sends req and returns the response, whose Body must be closed
// (closing it closes the connection).
func (t *FastCGITransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.scriptMissing(req.URL.Path) {
		return notFound(req), nil
	}
	bp := packetPool.Get().(*[]byte)
	defer packetPool.Put(bp)
	pkt := t.AppendRequest((*bp)[:0], req)
	body, inline := requestBody(req)
	if inline != nil || body == nil {
		pkt = fastcgi.AppendRecord(pkt, fastcgi.TypeStdin, fcgiRequestID, inline)
		if len(inline) > 0 {
			pkt = fastcgi.AppendRecord(pkt, fastcgi.TypeStdin, fcgiRequestID, nil)
		}
	}
	*bp = pkt[:0]

	ctx := req.Context()
	conn, err := t.dial(ctx)
	if err != nil {
		return nil, &DialError{err}
	}
	if err := t.send(conn, pkt, body, req.ContentLength); err != nil {
		conn.Close()
		return nil, err
	}
	if _, ok := conn.(*unixconn.Conn); ok {
		yieldForAnswer() // yield.go
	}

	// The body is made now: its connReader is what the records are read
	// from, under the read deadline and the lazy watch of the client
	// that the uwsgi transport uses (watch.go).
	b := &fcgiBody{uwsgiBody: uwsgiBody{rd: connReader{conn: conn, ctx: ctx}, conn: conn, timeout: t.ReadTimeout, ctx: ctx, addr: t.Address}}
	raw := fcgiConnReaders.Get().(*bufio.Reader)
	raw.Reset(&b.rd)
	rd := fcgiRecordReaders.Get().(*fastcgi.Reader)
	rd.Reset(raw, fcgiRequestID)
	logStderr := t.stderr(req)
	stdout := fastcgi.NewStdout(rd, func(p []byte) {
		// A STDERR record is a read: read_timeout runs between two
		// reads, as nginx's fastcgi_read_timeout does, so a script that
		// logs as it works is not cut off before its answer.
		b.rd.arm(t.ReadTimeout)
		if logStderr != nil {
			logStderr(p)
		}
	})
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(stdout)
	b.br = br
	b.release = func() {
		br.Reset(nil)
		readerPool.Put(br)
		rd.Reset(nil, fcgiRequestID)
		fcgiRecordReaders.Put(rd)
		raw.Reset(nil)
		fcgiConnReaders.Put(raw)
	}
	b.rd.arm(t.ReadTimeout)
	resp, err := readResponse(br, req, nil)
	if err != nil {
		b.rd.unwatch()
		conn.Close()
		b.release()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("client closed the connection before %s answered: %w", t.Address, ctx.Err())
		}
		if IsTimeout(err) {
			return nil, &TimeoutError{fmt.Errorf("read_timeout (%v) fired reading response header from %s: %w", t.ReadTimeout, t.Address, err)}
		}
		return nil, fmt.Errorf("reading FastCGI response header from %s: %w", t.Address, err)
	}
	b.body = resp.Body
	if _, ok := resp.Body.(untilClose); ok {
		// No length said (PHP's usual answer), and the records up to
		// END_REQUEST have all arrived: the body gets its length, and
		// the client the response in one write rather than a chunked
		// stream flushed read by read.
		next, _ := raw.Peek(raw.Buffered())
		if rest, whole := stdout.Remaining(next); whole {
			n := br.Buffered() + rest
			resp.ContentLength = int64(n)
			resp.Header["Content-Length"] = []string{strconv.Itoa(n)}
			b.exact = exactBody{r: br, n: int64(n)}
			b.body = &b.exact
		}
	}
	resp.Body = b
	return resp, nil
}

// dial connects as UwsgiTransport does: a Unix socket with unixconn.Dial's
// three system calls, TCP with a timeout. One connection per request: no
// FCGI_KEEP_CONN, because PHP-FPM gives a kept connection a worker of its
// own for as long as it stays open, so an idle pool would hold PHP's
// workers (pm.max_children) while requests queue.
func (t *FastCGITransport) dial(ctx context.Context) (upstreamConn, error) {
	if t.Network == "unix" {
		return unixconn.Dial(t.Address)
	}
	d := net.Dialer{Timeout: t.ConnectTimeout}
	return d.DialContext(ctx, t.Network, t.Address)
}

// requestBody returns the body to stream, or the whole body when it is in
// memory and small enough to go in the request's first write.
func requestBody(req *http.Request) (stream io.Reader, inline []byte) {
	if req.Body == nil || req.Body == http.NoBody || req.ContentLength == 0 {
		return nil, nil
	}
	if bb, ok := req.Body.(inMemoryBody); ok {
		if mem, ok := bb.InMemory(); ok && len(mem) <= 64<<10 && int64(len(mem)) == req.ContentLength {
			return nil, mem
		}
	}
	return req.Body, nil
}

// send writes the records and streams a body that was not inlined in
// STDIN records.
func (t *FastCGITransport) send(conn upstreamConn, pkt []byte, body io.Reader, n int64) error {
	if body != nil || len(pkt) > 64<<10 {
		conn.SetWriteDeadline(time.Now().Add(t.SendTimeout))
	}
	if _, err := conn.Write(pkt); err != nil {
		return fmt.Errorf("sending request to %s: %w", t.Address, err)
	}
	if body == nil {
		return nil
	}
	bp := fcgiStdinBuffers.Get().(*[]byte)
	defer fcgiStdinBuffers.Put(bp)
	if err := fastcgi.WriteStdin(deadlineWriter{conn, t.SendTimeout}, fcgiRequestID, body, n, *bp); err != nil {
		return fmt.Errorf("sending request body to %s: %w", t.Address, err)
	}
	return nil
}

// stderr returns the logger of the server's STDERR for req.
func (t *FastCGITransport) stderr(req *http.Request) func([]byte) {
	if t.Logger == nil {
		return nil
	}
	budget := maxStderrRequest
	return func(p []byte) {
		if budget <= 0 {
			return
		}
		budget -= max(len(p), stderrLineCost)
		if budget <= 0 {
			t.Logger.Error("edge: FastCGI sent more in stderr; the rest of this request's is not logged", "server", t.Address, "uri", req.RequestURI, "limit_bytes", maxStderrRequest)
			return
		}
		s := strings.TrimRight(string(p[:min(len(p), maxStderrLogged)]), "\r\n")
		t.Logger.Error("edge: FastCGI sent in stderr", "server", t.Address, "uri", req.RequestURI, "stderr", s)
	}
}

// fcgiBody is the response body; Close also returns the record reader.
type fcgiBody struct {
	uwsgiBody
	release func()
	exact   exactBody // the body, when its length was found (RoundTrip)
}

func (b *fcgiBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	b.rd.unwatch()
	b.conn.Close()
	b.body.Close()
	b.release()
	return nil
}

// AppendRequest appends req's BEGIN_REQUEST and PARAMS records (the head
// of the request, before STDIN) to dst. The variables are nginx's
// fastcgi.conf, in its order, then PATH_INFO and PATH_TRANSLATED as
// Debian's fastcgi-php.conf and nginx's documentation set them, then every
// header as HTTP_*.
func (t *FastCGITransport) AppendRequest(dst []byte, req *http.Request) []byte {
	dst = fastcgi.AppendBeginRequest(dst, fcgiRequestID, fastcgi.RoleResponder, 0)
	start := len(dst)
	// The pairs are built after a gap for the first record header, then
	// cut into records in place when they are longer than one.
	dst = append(dst, fcgiPad[:fastcgi.HeaderSize]...)
	pairs := len(dst)
	env := cgiEnv(req)
	script, pathInfo := t.split(req.URL.Path)
	filename := t.ScriptFilename
	if filename == "" {
		filename = t.Root + script
	}
	add := func(k, v string) { dst = fastcgi.AppendPair(dst, k, v) }
	add("SCRIPT_FILENAME", filename)
	add("QUERY_STRING", req.URL.RawQuery)
	add("REQUEST_METHOD", req.Method)
	add("CONTENT_TYPE", req.Header.Get("Content-Type"))
	if req.ContentLength > 0 {
		var b [20]byte
		add("CONTENT_LENGTH", string(strconv.AppendInt(b[:0], req.ContentLength, 10)))
	} else {
		add("CONTENT_LENGTH", "")
	}
	add("SCRIPT_NAME", script)
	uri := req.RequestURI
	if uri == "" {
		uri = req.URL.RequestURI()
	}
	add("REQUEST_URI", uri)
	add("DOCUMENT_URI", req.URL.Path)
	add("DOCUMENT_ROOT", t.Root)
	add("SERVER_PROTOCOL", req.Proto)
	add("REQUEST_SCHEME", env.Scheme)
	if env.Scheme == "https" {
		add("HTTPS", "on")
	}
	add("GATEWAY_INTERFACE", "CGI/1.1")
	add("SERVER_SOFTWARE", "stack")
	add("REMOTE_ADDR", env.RemoteAddr)
	add("REMOTE_PORT", env.RemotePort)
	user, _, _ := req.BasicAuth()
	add("REMOTE_USER", user)
	serverAddr := ""
	if la, ok := req.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if tcp, ok := la.(*net.TCPAddr); ok {
			serverAddr = tcp.IP.String()
		}
	}
	add("SERVER_ADDR", serverAddr)
	add("SERVER_PORT", env.ServerPort)
	add("SERVER_NAME", env.ServerName)
	add("REDIRECT_STATUS", "200")
	// Debian's fastcgi_params: HTTP_HOST is $host (lower case, no port),
	// not the Host header as the client sent it.
	add("HTTP_HOST", strings.ToLower(env.ServerName))
	add("PATH_INFO", pathInfo)
	if pathInfo != "" {
		add("PATH_TRANSLATED", t.Root+pathInfo)
	}
	for name, values := range req.Header {
		if name == "Host" || len(values) == 0 {
			continue
		}
		v := values[0]
		if len(values) > 1 {
			sep := ", "
			if name == "Cookie" {
				sep = "; "
			}
			v = strings.Join(values, sep)
		}
		dst = appendHeaderPair(dst, name, v)
	}
	return splitParams(dst, start, pairs)
}

// split cuts a path into the script name and PATH_INFO.
func (t *FastCGITransport) split(path string) (script, pathInfo string) {
	script = path
	if t.SplitPathInfo != nil {
		if m := t.SplitPathInfo.FindStringSubmatchIndex(path); len(m) >= 6 && m[2] >= 0 {
			script = path[m[2]:m[3]]
			if m[4] >= 0 {
				pathInfo = path[m[4]:m[5]]
			}
		}
	}
	if strings.HasSuffix(script, "/") {
		script += t.Index
	}
	return script, pathInfo
}

// appendHeaderPair appends a header as its CGI variable, HTTP_ and the
// name in capitals with _ for -.
func appendHeaderPair(dst []byte, name, value string) []byte {
	n := 5 + len(name)
	if n < 128 {
		dst = append(dst, byte(n))
	} else {
		dst = append(dst, byte(n>>24)|0x80, byte(n>>16), byte(n>>8), byte(n))
	}
	if len(value) < 128 {
		dst = append(dst, byte(len(value)))
	} else {
		v := len(value)
		dst = append(dst, byte(v>>24)|0x80, byte(v>>16), byte(v>>8), byte(v))
	}
	dst = append(dst, "HTTP_"...)
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-':
			c = '_'
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return append(dst, value...)
}

// splitParams turns the pairs at dst[pairs:] (with a record header's room
// before them, at start) into PARAMS records and the empty one that ends
// the stream. The common case, pairs that fit one record, needs no copy.
// Longer, the records are cut between pairs, never inside one: PHP-FPM
// parses each PARAMS record on its own and resets the connection on a
// pair cut in two (the spec allows it; net/http/fcgi joins them). Only a
// pair longer than a record is cut, which PHP-FPM then refuses whatever
// the cut (nginx refuses to send it: "fastcgi request record is too big").
func splitParams(dst []byte, start, pairs int) []byte {
	content := len(dst) - pairs
	if content <= fastcgi.MaxContent {
		_, pad := fastcgi.AppendHeader(dst[start:start], fastcgi.TypeParams, fcgiRequestID, content) // in place
		dst = append(dst, fcgiPad[:pad]...)
		return fastcgi.AppendRecord(dst, fastcgi.TypeParams, fcgiRequestID, nil)
	}
	body := append([]byte(nil), dst[pairs:]...)
	dst = dst[:start]
	rec := 0 // the start in body of the record being filled
	for at := 0; at < len(body); {
		end := at + pairSize(body[at:])
		if end-rec > fastcgi.MaxContent && at > rec {
			dst = fastcgi.AppendRecord(dst, fastcgi.TypeParams, fcgiRequestID, body[rec:at])
			rec = at
		}
		if end-rec > fastcgi.MaxContent { // one pair longer than a record
			dst = fastcgi.AppendRecord(dst, fastcgi.TypeParams, fcgiRequestID, body[rec:end])
			rec = end
		}
		at = end
	}
	if rec < len(body) {
		dst = fastcgi.AppendRecord(dst, fastcgi.TypeParams, fcgiRequestID, body[rec:])
	}
	return fastcgi.AppendRecord(dst, fastcgi.TypeParams, fcgiRequestID, nil)
}

// pairSize returns the encoded size of the pair at the front of b, which
// holds pairs this file encoded (so well formed; capped at len(b)).
func pairSize(b []byte) int {
	size, rest := 0, b
	for range 2 {
		switch {
		case len(rest) == 0:
			return len(b)
		case rest[0] < 128:
			size += 1 + int(rest[0])
			rest = rest[1:]
		case len(rest) >= 4:
			size += 4 + int(binary.BigEndian.Uint32(rest)&^(1<<31))
			rest = rest[4:]
		default:
			return len(b)
		}
	}
	return min(size, len(b))
}
