package edge

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"time"

	"github.com/stack-web/stack/edge/internal/framing"
	"github.com/stack-web/stack/edge/internal/tunnel"
)

// WebSocket (and any other protocol upgrade) through the edge.
//
// A request that asks to upgrade (Connection: upgrade, Upgrade: <proto>)
// is proxied as any other; the forwarder (internal/forward) passes Connection and
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
//
// The tunnel itself (the upgraded connection, its limits, the registry
// Shutdown closes, and the check of an upstream's 101) is
// edge/internal/tunnel; here is the glue to the location and the
// clientWriter.

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
	var early []byte
	if n := brw.Reader.Buffered(); n > 0 {
		// What the client sent past the request head, read with it:
		// the forwarder copies from the connection alone, so it is read
		// from uc first, or lost.
		b, _ := brw.Reader.Peek(n)
		early = bytes.Clone(b)
		brw.Reader.Discard(n)
	}
	if fc, ok := conn.(*framing.Conn); ok {
		// Past the switch the bytes are not HTTP: the request framing
		// tracker and the refusal rewriter have nothing to look at.
		conn = fc.Conn
	}
	uc := tunnel.New(conn, early, tunnel.Limits{Idle: w.ws.idle, Lifetime: w.ws.lifetime, Send: w.timeout}, w.upgraded, w.cancelUpgrade)
	w.hijacked = uc
	return uc, brw, nil
}

// upgradeEnded records, once the switched connection is done, what it
// carried: the access log and metrics count the bytes sent after the 101.
func (p *Proxy) upgradeEnded(cw *clientWriter, r *http.Request) {
	uc := cw.hijacked
	uc.Close() // the forwarder has; a no-op then
	cw.bytes = uc.Sent()
	p.logger.Debug("edge: upgraded connection ended", "upstream", p.upstream.Name, "uri", r.RequestURI,
		"protocol", r.Header.Get("Upgrade"), "duration", time.Since(uc.Start()), "sent", uc.Sent(),
		"received", uc.Received(), "closed_by_limit", uc.ClosedBy())
}
