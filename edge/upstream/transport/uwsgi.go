package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stack-web/stack/edge/upstream/internal/unixconn"
	"github.com/stack-web/stack/uwsgi"
)

// UwsgiTransport is an http.RoundTripper that sends each request to one
// uwsgi server, over a new connection, as nginx's uwsgi_pass does: the uwsgi
// protocol has no way to end a response but closing the connection. With
// KeepAlive set it offers to keep the connection (uwsgi.VarKeepAlive), and
// reuses it when the server accepts, as this project's appserver does.
//
// The request's CGI variables are built from the request the proxy hands
// it: URL.Path is PATH_INFO (the edge puts the normalised path there),
// RequestURI is REQUEST_URI, RemoteAddr gives REMOTE_ADDR and REMOTE_PORT,
// the connection's local address gives SERVER_PORT, and X-Forwarded-Proto
// (which the edge sets) gives the scheme.
type UwsgiTransport struct {
	// Network and Address locate the server: ("unix", "run/app.sock") or
	// ("tcp", "10.0.0.2:3031").
	Network, Address string
	// ConnectTimeout bounds the connection attempt.
	ConnectTimeout time.Duration
	// ReadTimeout bounds the wait for the response header and every pause
	// in the response body.
	ReadTimeout time.Duration
	// SendTimeout bounds every write of the request.
	SendTimeout time.Duration
	// BufferSize is the server's largest accepted vars block.
	BufferSize int
	// KeepAlive is how many idle connections are kept for reuse; 0 keeps
	// none (nginx's keepalive). Only a server that answers with
	// uwsgi.KeepAliveHeader has its connections kept.
	KeepAlive int
	// KeepAliveTimeout closes a kept connection idle this long.
	KeepAliveTimeout time.Duration
	// Census, if set, counts each answer of a server on a Unix socket by
	// whether the server offered to keep the connection.
	Census *Census

	idle   idlePool
	linger time.Duration // awaitClose's bound; 0 is lingerMax (linger.go)
}

var _ http.RoundTripper = (*UwsgiTransport)(nil)

// The uwsgi variables of the edge↔appserver contract (see README).
const (
	// VarResponseFraming=chunked asks the server to send a response without
	// Content-Length chunked, ending with the last chunk only when it is
	// complete, instead of ending it by closing the connection.
	VarResponseFraming = "STACK_RESPONSE_FRAMING"
	// VarRequestStart is when the edge started sending the request, in
	// microseconds since the Unix epoch (decimal).
	VarRequestStart = "STACK_REQUEST_START"
	// VarRequestID is the edge's id of the request (also its X-Request-Id
	// header), for the app server's log lines.
	VarRequestID = "STACK_REQUEST_ID"
)

var (
	packetPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
)

// RoundTrip sends req and returns the response, whose Body must be closed
// (closing it closes the connection).
func (t *UwsgiTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	bp := packetPool.Get().(*[]byte)
	defer packetPool.Put(bp)
	var e uwsgi.Encoder
	e.Reset(*bp, uwsgi.ModifierWSGI, 0)
	env := cgiEnv(req)
	uwsgi.EncodeRequest(&e, req, &env)
	// Contract with the appserver: frame the response so that its end is
	// explicit (an aborted response is then told from a complete one), and
	// say when the edge started sending, for its queue_timeout.
	e.Add(VarResponseFraming, "chunked")
	if t.KeepAlive > 0 {
		e.Add(uwsgi.VarKeepAlive, "1")
	}
	var ts [20]byte
	e.Add(VarRequestStart, string(strconv.AppendInt(ts[:0], time.Now().UnixMicro(), 10)))
	if id := req.Header["X-Request-Id"]; len(id) == 1 {
		e.Add(VarRequestID, id[0])
	}
	pkt, err := e.Bytes(t.BufferSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHeadTooLarge, err)
	}
	*bp = pkt[:0]

	ctx := req.Context()
	// Only a request that may be sent twice goes on a kept connection: the
	// server may have closed it, and then it is sent again on a new one.
	// Any other request gets a new connection, which it may leave kept.
	reuse := t.KeepAlive > 0 && (req.Method == http.MethodGet || req.Method == http.MethodHead ||
		req.Method == http.MethodOptions) && (req.Body == nil || req.Body == http.NoBody || req.ContentLength == 0)
	for {
		var conn upstreamConn
		if reuse {
			conn = t.idle.get(t.KeepAliveTimeout)
		}
		reused := conn != nil
		if !reused {
			var err error
			if conn, err = t.dial(ctx); err != nil {
				return nil, &DialError{err}
			}
		}
		resp, err := t.exchange(ctx, conn, pkt, req, reused)
		if err == errStale {
			continue // the next kept one, or a new connection
		}
		return resp, err
	}
}

// errStale: a kept connection turned out closed by the server before it
// read the request.
var errStale = errors.New("kept connection closed by the server")

// exchange sends the request on conn and reads the response head.
func (t *UwsgiTransport) exchange(ctx context.Context, conn upstreamConn, pkt []byte, req *http.Request, reused bool) (*http.Response, error) {
	// sendErr is set when the server stopped reading the request body: a
	// handler that ignores a large upload answers and closes (the app
	// server drains only so much), and its answer, already on its way, is
	// what the client must get, as net/http's Transport does, rather than
	// a 502 for a request the app has run.
	// A kept Unix connection (the request has no body: see RoundTrip)
	// sends the request in the first read of its answer, which then waits
	// at once instead of trying the socket first (writeReader).
	_, fused := conn.(writeReader)
	fused = fused && reused && len(pkt) <= 64<<10
	var sendErr error
	if !fused {
		sendErr = t.send(conn, pkt, req)
	}
	if _, ok := conn.(*unixconn.Conn); ok && sendErr == nil && !reused {
		yieldForAnswer() // yield.go
	}
	if sendErr != nil {
		if reused && isStale(sendErr) {
			conn.Close()
			return nil, errStale
		}
		if !errors.Is(sendErr, syscall.EPIPE) && !errors.Is(sendErr, syscall.ECONNRESET) {
			conn.Close()
			return nil, sendErr
		}
	}

	// The body is made now: its connReader is what br reads, and the
	// response is read into its head.
	b := &uwsgiBody{rd: connReader{conn: conn, ctx: ctx}, conn: conn, timeout: t.ReadTimeout, ctx: ctx, addr: t.Address}
	b.head.pool = true // the forwarder calls ReleaseHead when done
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(&b.rd)
	b.br = br
	// A client that goes away cancels the wait for the upstream, once the
	// wait is long enough to matter (watch.go).
	b.rd.arm(t.ReadTimeout)
	if fused {
		b.rd.request = pkt
	}
	fail := func() {
		b.rd.unwatch()
		conn.Close()
		br.Reset(nil)
		readerPool.Put(br)
	}
	if reused {
		// The server closes a kept connection only while it waits for a
		// request, so an end before the first byte means it never read
		// this one.
		if _, err := br.Peek(1); err != nil && ctx.Err() == nil && isStale(err) {
			fail()
			return nil, errStale
		}
	}
	resp, err := readResponse(br, req, &b.head)
	if fused {
		b.rd.request = nil // written, or never to be: pkt goes back to its pool
		sendErr = b.rd.sendErr
	}
	if err != nil && sendErr != nil {
		fail()
		return nil, sendErr // no answer came: the send's error says why
	}
	if err != nil {
		fail()
		if ctx.Err() != nil {
			// The client went away and its context cut the wait: not the
			// upstream's fault, and no timeout (nginx logs 499).
			return nil, fmt.Errorf("client closed the connection before %s answered: %w", t.Address, ctx.Err())
		}
		if IsTimeout(err) {
			return nil, &TimeoutError{fmt.Errorf("read_timeout (%v) fired reading response header from %s: %w", t.ReadTimeout, t.Address, err)}
		}
		return nil, fmt.Errorf("reading response header from %s: %w", t.Address, err)
	}
	// Only an answer to a request that offered to keep the connection
	// tells a keeping server from a closing one: with keepalive 0 this
	// project's appserver closes too, and counted as uWSGI it would halve
	// the edge's CPUs in front of it.
	if t.Network == "unix" && t.KeepAlive > 0 {
		_, kept := resp.Header[uwsgi.KeepAliveHeader]
		t.Census.count(kept)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return upgrade(resp, conn, br, &b.rd), nil // the connection is the body; never kept
	}
	if _, ok := resp.Body.(untilClose); ok && t.closesSoon(conn, b, resp.Header, &err) {
		// The whole body is in br already: it gets its length, and the
		// client its response in one write instead of a chunked stream
		// flushed as it comes (a WSGI app's answer through uWSGI seldom
		// says its length).
		n := br.Buffered()
		resp.ContentLength = int64(n)
		b.head.clen[0] = strconv.Itoa(n)
		resp.Header["Content-Length"] = b.head.clen[:]
		b.head.exact = exactBody{r: br, n: int64(n)}
		resp.Body = &b.head.exact
		delete(resp.Header, uwsgi.KeepAliveHeader) // closed: never kept
	}
	if err != nil {
		fail()
		return nil, err
	}
	b.body = resp.Body
	if _, ok := resp.Header[uwsgi.KeepAliveHeader]; ok {
		delete(resp.Header, uwsgi.KeepAliveHeader)
		if t.KeepAlive > 0 && sendErr == nil { // a request not sent whole leaves the connection unusable
			b.keep = t
			switch resp.Body.(type) {
			case chunkedBody:
				b.chunked = true
			case *exactBody:
			default:
				if resp.Body == http.NoBody {
					b.done = true
				} else {
					b.keep = nil // ends at the close: never kept
				}
			}
		}
	}
	resp.Body = b
	return resp, nil
}

// upstreamConn is what the transport needs of a connection; both net.Conn
// and *unixconn.Conn (from unixconn.Dial) have it.
type upstreamConn interface {
	io.ReadWriteCloser
	SetDeadline(time.Time) error
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

func (t *UwsgiTransport) dial(ctx context.Context) (upstreamConn, error) {
	if t.Network == "unix" {
		return unixconn.Dial(t.Address)
	}
	d := net.Dialer{Timeout: t.ConnectTimeout}
	return d.DialContext(ctx, t.Network, t.Address)
}

// inMemoryBody is a request body the edge has read in full (edge/upstream's
// BufferedBody): one held in memory goes in the request's first write.
type inMemoryBody interface {
	InMemory() ([]byte, bool)
}

// send writes the packet and the body. A body that is already in memory
// goes in the same write as the packet: for most requests, one syscall, on
// a fresh connection whose buffer it fits, so it cannot block and needs no
// deadline.
func (t *UwsgiTransport) send(conn upstreamConn, pkt []byte, req *http.Request) error {
	var body io.Reader
	if req.Body != nil && req.Body != http.NoBody && req.ContentLength != 0 {
		body = req.Body
		if bb, ok := req.Body.(inMemoryBody); ok {
			if mem, ok := bb.InMemory(); ok && len(mem) <= 64<<10 {
				pkt = append(pkt, mem...)
				body = nil
			}
		}
	}
	deadline := body != nil || len(pkt) > 64<<10
	if deadline {
		conn.SetWriteDeadline(time.Now().Add(t.SendTimeout))
	}
	if _, err := conn.Write(pkt); err != nil {
		return fmt.Errorf("sending request to %s: %w", t.Address, err)
	}
	if body != nil {
		// The body's length was announced in CONTENT_LENGTH; exactly that
		// many bytes must follow, or the server waits (or reads garbage).
		n, err := io.Copy(deadlineWriter{conn, t.SendTimeout}, io.LimitReader(body, req.ContentLength))
		if err == nil && n != req.ContentLength {
			err = fmt.Errorf("body ended after %d of %d bytes", n, req.ContentLength)
		}
		if err != nil {
			return fmt.Errorf("sending request body to %s: %w", t.Address, err)
		}
	}
	if deadline {
		// A kept connection's next request may be small, sent with no
		// deadline of its own.
		conn.SetWriteDeadline(time.Time{})
	}
	return nil
}

// cgiEnv derives the connection variables from the request.
func cgiEnv(req *http.Request) uwsgi.Env {
	var env uwsgi.Env
	if host, port, err := net.SplitHostPort(req.RemoteAddr); err == nil {
		env.RemoteAddr, env.RemotePort = host, port
	}
	if la, ok := req.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if tcp, ok := la.(*net.TCPAddr); ok {
			env.ServerPort = portString(tcp.Port)
		}
	}
	env.ServerName = req.Host
	if i := strings.LastIndexByte(env.ServerName, ':'); i >= 0 && !strings.HasSuffix(env.ServerName, "]") {
		env.ServerName = env.ServerName[:i]
	}
	env.Scheme = "http"
	if req.TLS != nil || req.Header.Get("X-Forwarded-Proto") == "https" {
		env.Scheme = "https"
	}
	return env
}

// portString is strconv.Itoa for a port, without an allocation for the
// listening ports of the edge (the last few seen are kept: an edge
// listens on a handful).
func portString(port int) string {
	for i := range lastPorts {
		if p := lastPorts[i].Load(); p != nil && p.port == port {
			return p.s
		}
	}
	s := strconv.Itoa(port)
	lastPorts[uint(port)%uint(len(lastPorts))].Store(&portName{port, s})
	return s
}

type portName struct {
	port int
	s    string
}

// lastPorts is a cache of immutable entries, safe for any number of edges
// in a process: no state, only a memo of strconv.Itoa.
var lastPorts [4]atomic.Pointer[portName]

// deadlineWriter renews the write deadline before each write.
type deadlineWriter struct {
	conn    upstreamConn
	timeout time.Duration
}

func (w deadlineWriter) Write(p []byte) (int, error) {
	w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
	return w.conn.Write(p)
}
