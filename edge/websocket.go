package edge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// WebSocket (and any other protocol upgrade) through the edge.
//
// A request that asks to upgrade (Connection: upgrade, Upgrade: <proto>)
// is proxied as any other; the forwarder (forward.go) passes Connection and
// Upgrade on for it alone (they are hop-by-hop, removed from every other
// request), and when the upstream answers 101 with the same protocol it
// takes the client's connection over (clientWriter.Hijack) and copies
// both ways until either side closes. Over uwsgi the appserver's
// ResponseWriter is an http.Hijacker, so the app's WebSocket library works
// as behind net/http; over http it is the upstream's own.
//
// Unlike a request, an upgraded connection has no natural end, so the edge
// bounds it per location (nginx's proxy_read_timeout plays the idle role
// there): idle_timeout closes it after that long without a byte either
// way, and max_lifetime after that long in all. Edge.Shutdown waits for
// upgraded connections until its grace period ends, then closes them
// (net/http's Shutdown does not see hijacked connections at all).
//
// The access log and metrics count an upgraded request once, when it
// ends: status 101, the bytes sent to the client after the 101, and the
// whole duration.

// WebSocketConfig is a location's limits on upgraded connections.
type WebSocketConfig struct {
	// IdleTimeout closes an upgraded connection that carried no byte in
	// either direction for this long (default 60s, as nginx's
	// proxy_read_timeout; apps keep a WebSocket alive with pings).
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxLifetime closes an upgraded connection this long after the
	// upgrade, however busy; 0 (the default) never does.
	MaxLifetime time.Duration `yaml:"max_lifetime"`
}

// defaultWebSocketIdle is idle_timeout when a location sets none.
const defaultWebSocketIdle = 60 * time.Second

// validateWebSocket checks every location's websocket limits.
func (c *Config) validateWebSocket(bad func(key, format string, args ...any)) {
	c.EachLocation(func(key string, l LocationConfig) {
		key += ".websocket"
		if l.WebSocket.IdleTimeout < 0 {
			bad(key+".idle_timeout", "must not be negative (default 60s)")
		}
		if l.WebSocket.MaxLifetime < 0 {
			bad(key+".max_lifetime", "must not be negative (0, the default, is no limit)")
		}
	})
}

// wsLimits are a location's limits, resolved.
type wsLimits struct {
	idle, lifetime time.Duration
}

// withWebSocket gives a proxy location the limits of lc for the
// connections it upgrades; a static location has none to upgrade. The
// handler itself is returned: nothing is added to a request's path.
func withWebSocket(h http.Handler, lc WebSocketConfig) http.Handler {
	if p, ok := h.(*Proxy); ok {
		p.ws = wsLimits{idle: lc.IdleTimeout, lifetime: lc.MaxLifetime}
		if p.ws.idle == 0 {
			p.ws.idle = defaultWebSocketIdle
		}
	}
	return h
}

// prepareUpgrade gives a request that asks to upgrade the location's
// limits, through the edge's clientWriter under w (nil if there is none),
// and a context that the limits cancel: closing the client's side alone
// would leave the forwarder waiting on an upstream that never ends its own.
func (p *Proxy) prepareUpgrade(w http.ResponseWriter, r *http.Request) (*clientWriter, *http.Request, context.CancelFunc) {
	cw := findClientWriter(w)
	if cw == nil {
		return nil, r, func() {}
	}
	ctx, cancel := context.WithCancel(r.Context())
	cw.ws, cw.cancelUpgrade = &p.ws, cancel
	return cw, r.WithContext(ctx), cancel
}

// findClientWriter unwraps w down to the edge's clientWriter.
func findClientWriter(w http.ResponseWriter) *clientWriter {
	for {
		switch x := w.(type) {
		case *clientWriter:
			return x
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return nil
		}
	}
}

// Hijack takes the client's connection over. For a protocol switch (the
// proxy's, once the upstream answered 101 to a request that asked to
// upgrade) the connection it returns is counted in the access log and the
// open connections, bounded by the location's websocket limits, and
// closed by Shutdown at the end of its grace period. Any other hijack
// (the lingering close) gets the bare connection.
func (w *clientWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil || w.ws == nil {
		return conn, brw, err
	}
	if w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	uc := newUpgradedConn(conn, *w.ws, w.upgraded, w.cancelUpgrade)
	if n := brw.Reader.Buffered(); n > 0 {
		// What the client sent past the request head, read with it:
		// the forwarder copies from the connection alone, so it is read
		// from uc first, or lost.
		b, _ := brw.Reader.Peek(n)
		uc.early = bytes.Clone(b)
		brw.Reader.Discard(n)
	}
	w.hijacked = uc
	return uc, brw, nil
}

// upgradedConns are the edge's upgraded client connections, for Shutdown.
type upgradedConns struct {
	mu    sync.Mutex
	conns map[*upgradedConn]struct{}
	done  chan struct{} // closed when the set empties while waited on
	log   *slog.Logger
	open  *openConns // the edge's gauge: an upgraded connection is still open
}

func (s *upgradedConns) add(c *upgradedConn) {
	if s == nil {
		return
	}
	s.mu.Lock()
	if s.conns == nil {
		s.conns = map[*upgradedConn]struct{}{}
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	if s.open != nil {
		s.open.Add(1) // net/http stopped counting it at the hijack
	}
}

func (s *upgradedConns) remove(c *upgradedConn) {
	if s == nil {
		return
	}
	if s.open != nil {
		s.open.Add(-1)
	}
	s.mu.Lock()
	delete(s.conns, c)
	if len(s.conns) == 0 && s.done != nil {
		close(s.done)
		s.done = nil
	}
	s.mu.Unlock()
}

// shutdown waits for the upgraded connections to end, or for ctx; then
// closes those left.
func (s *upgradedConns) shutdown(ctx context.Context) {
	s.mu.Lock()
	var done chan struct{}
	if len(s.conns) > 0 {
		if s.done == nil {
			s.done = make(chan struct{})
		}
		done = s.done
	}
	s.mu.Unlock()
	if done != nil {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
	}
	s.mu.Lock()
	left := make([]*upgradedConn, 0, len(s.conns))
	for c := range s.conns {
		left = append(left, c)
	}
	s.mu.Unlock()
	if len(left) > 0 && s.log != nil {
		s.log.Info("edge: closing upgraded connections at the end of the shutdown grace period", "connections", len(left))
	}
	for _, c := range left {
		c.Close()
	}
}

// upgradedConn is a client connection after a protocol switch: it counts
// the bytes each way, notes when it last carried one, and closes itself
// when idle or too old.
type upgradedConn struct {
	net.Conn
	lim      wsLimits
	set      *upgradedConns
	cancel   context.CancelFunc // ends the request, and so the upstream's side
	start    time.Time
	last     atomic.Int64 // unix nanoseconds of the last byte either way
	sent     atomic.Int64 // bytes written to the client
	received atomic.Int64 // bytes read from the client
	idle     *time.Timer
	life     *time.Timer
	reason   atomic.Pointer[string] // why the edge closed it, if it did
	early    []byte                 // read by the server past the request head; Read's alone
	once     sync.Once
}

func newUpgradedConn(c net.Conn, lim wsLimits, set *upgradedConns, cancel context.CancelFunc) *upgradedConn {
	if fc, ok := c.(*framingConn); ok {
		// Past the switch the bytes are not HTTP: the request framing
		// tracker and the refusal rewriter have nothing to look at.
		c = fc.Conn
	}
	uc := &upgradedConn{Conn: c, lim: lim, set: set, cancel: cancel, start: time.Now()}
	uc.last.Store(uc.start.UnixNano())
	// The server's deadlines (header read, send_timeout) were for the
	// request; from here the limits are the location's.
	c.SetDeadline(time.Time{})
	// Armed once assigned: the callbacks read the fields.
	if lim.idle > 0 {
		uc.idle = time.AfterFunc(time.Hour, uc.checkIdle)
		uc.idle.Reset(lim.idle)
	}
	if lim.lifetime > 0 {
		uc.life = time.AfterFunc(time.Hour, func() { uc.closeFor(&reasonLifetime) })
		uc.life.Reset(lim.lifetime)
	}
	set.add(uc) // Shutdown may close it from here
	return uc
}

// checkIdle closes the connection if it carried nothing for the idle
// limit, or looks again when it would have.
func (c *upgradedConn) checkIdle() {
	quiet := time.Since(time.Unix(0, c.last.Load()))
	if quiet >= c.lim.idle {
		c.closeFor(&reasonIdle)
		return
	}
	c.idle.Reset(c.lim.idle - quiet)
}

var (
	reasonIdle     = "idle_timeout"
	reasonLifetime = "max_lifetime"
)

// closeFor closes the connection, recording the limit that closed it.
func (c *upgradedConn) closeFor(reason *string) {
	c.reason.CompareAndSwap(nil, reason)
	c.Close()
}

func (c *upgradedConn) Read(p []byte) (int, error) {
	if len(c.early) > 0 {
		n := copy(p, c.early)
		c.early = c.early[n:]
		c.received.Add(int64(n))
		return n, nil
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.received.Add(int64(n))
		c.last.Store(time.Now().UnixNano())
	}
	return n, err
}

func (c *upgradedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.sent.Add(int64(n))
		c.last.Store(time.Now().UnixNano())
	}
	return n, err
}

// CloseWrite passes a half-close on (the forwarder sends one when the
// upstream ended its side).
func (c *upgradedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *upgradedConn) Close() error {
	var err error
	c.once.Do(func() {
		if c.idle != nil {
			c.idle.Stop()
		}
		if c.life != nil {
			c.life.Stop()
		}
		err = c.Conn.Close()
		if c.cancel != nil {
			c.cancel()
		}
		c.set.remove(c)
	})
	return err
}

// closedBy says why the edge closed the connection ("" when it did not).
func (c *upgradedConn) closedBy() string {
	if r := c.reason.Load(); r != nil {
		return *r
	}
	return ""
}

// isUpgrade reports whether r asks to switch protocols.
func isUpgrade(r *http.Request) bool {
	if _, ok := r.Header["Upgrade"]; !ok {
		return false
	}
	for _, v := range r.Header["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

// dropRefusedUpgrade removes the Upgrade header of a request that asks
// for an upgrade the edge never passes on, and reports whether it did;
// the request is then served as a plain one (a server may ignore an
// Upgrade, RFC 9110 §7.8):
//   - on HTTP/1.0, whose Upgrade a server must ignore (§7.8);
//   - to HTTP/2 (h2c, h2, HTTP/2.0): through the tunnel the client would
//     speak HTTP/2 to the app directly, every request past the edge's
//     locations, limits and internal paths (h2c smuggling).
func dropRefusedUpgrade(r *http.Request) bool {
	refuse := !r.ProtoAtLeast(1, 1)
	for _, v := range r.Header["Upgrade"] {
		for tok := range strings.SplitSeq(v, ",") {
			name, version, _ := strings.Cut(strings.TrimSpace(tok), "/")
			if strings.EqualFold(name, "h2c") || strings.EqualFold(name, "h2") ||
				(strings.EqualFold(name, "http") && strings.HasPrefix(version, "2")) {
				refuse = true
			}
		}
	}
	if refuse {
		delete(r.Header, "Upgrade")
		delete(r.Header, "Http2-Settings")
	}
	return refuse
}

// errUnaskedSwitch: an upstream answered 101 to a request that asked for
// no upgrade. Passed on, it would take the client's connection over.
var errUnaskedSwitch = errors.New("upstream answered 101 Switching Protocols to a request that asked for no upgrade")

// checkSwitch refuses (502) a 101 to a request that asked for no upgrade,
// one to another protocol than asked, and one over a transport whose body
// is not the connection (FastCGI). ReverseProxy refused the last two
// itself, but without closing the body, which is the upstream connection
// (held until the garbage collector finds it, its server counted busy);
// refused here, the forwarder closes it. An accepted switch gets its body
// wrapped (switchedBody).
func checkSwitch(resp *http.Response) error {
	if resp.Request == nil || !isUpgrade(resp.Request) {
		return errUnaskedSwitch
	}
	asked, got := switchedTo(resp.Request.Header), switchedTo(resp.Header)
	if got == "" || !strings.EqualFold(asked, got) || strings.ContainsFunc(got, func(r rune) bool { return r < ' ' || r > '~' }) {
		return fmt.Errorf("upstream switched to protocol %q when %q was asked", got, asked)
	}
	if strings.EqualFold(asked, "websocket") {
		// A 101 without the handshake's answer was not made by a
		// WebSocket server (a handler that wrote the status and went on as
		// HTTP): the tunnel would take the client to the app's own
		// request parser, past the edge's rules. An RFC 6455 client fails
		// such a connection anyway (§4.1).
		key := resp.Request.Header.Get("Sec-WebSocket-Key")
		if key == "" || resp.Header.Get("Sec-WebSocket-Accept") != websocketAccept(key) {
			return errors.New("upstream answered 101 to a WebSocket request without the Sec-WebSocket-Accept its Sec-WebSocket-Key calls for (RFC 6455 §4.2.2): no handshake was made")
		}
	}
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		return errors.New("upstream answered 101 Switching Protocols over a protocol that cannot switch (FastCGI: a response is records, not a connection to take over)")
	}
	resp.Body = &switchedBody{ReadWriteCloser: rwc, readEnded: make(chan struct{})}
	return nil
}

// switchedBody is the upstream's side of a switched connection, as
// the forwarder copies it (forward_upgrade.go). It ends both directions at the first
// error of either, so a write to an upstream that has closed (a WebSocket
// server closing with 1009 while the client still sends the rest of the
// message) would end it before the upstream's last bytes, its close
// frame, were copied to the client. A failed write waits for the reading
// side to reach the upstream's end first, for at most finalReadWait.
type switchedBody struct {
	io.ReadWriteCloser
	readEnded chan struct{}
	once      sync.Once
}

const finalReadWait = time.Second

func (b *switchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadWriteCloser.Read(p)
	if err != nil {
		b.once.Do(func() { close(b.readEnded) })
	}
	return n, err
}

func (b *switchedBody) Write(p []byte) (int, error) {
	n, err := b.ReadWriteCloser.Write(p)
	if err != nil {
		t := time.NewTimer(finalReadWait)
		defer t.Stop()
		select {
		case <-b.readEnded:
		case <-t.C:
		}
	}
	return n, err
}

// CloseWrite passes the client's half-close on where the upstream's side
// can take one (uwsgi); elsewhere the error ends both directions, as
// the forwarder does for a body without CloseWrite.
func (b *switchedBody) CloseWrite() error {
	if cw, ok := b.ReadWriteCloser.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// websocketAccept is the Sec-WebSocket-Accept that answers key.
func websocketAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// switchedTo is the protocol h upgrades to, as ReverseProxy and the forwarder read it: the
// Upgrade header when Connection lists "upgrade", else "".
func switchedTo(h http.Header) string {
	for _, v := range h["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return h.Get("Upgrade")
			}
		}
	}
	return ""
}

// upgradeEnded records, once the switched connection is done, what it
// carried: the access log and metrics count the bytes sent after the 101.
func (p *Proxy) upgradeEnded(cw *clientWriter, r *http.Request) {
	uc := cw.hijacked
	uc.Close() // the forwarder has; a no-op then
	cw.bytes = uc.sent.Load()
	p.logger.Debug("edge: upgraded connection ended", "upstream", p.upstream.Name, "uri", r.RequestURI,
		"protocol", r.Header.Get("Upgrade"), "duration", time.Since(uc.start), "sent", uc.sent.Load(),
		"received", uc.received.Load(), "closed_by_limit", uc.closedBy())
}
