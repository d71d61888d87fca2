package edge

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stack-web/stack/edge/internal/errpage"
	"github.com/stack-web/stack/edge/upstream"
)

// Proxy is a location that passes requests to an upstream through
// httputil.ReverseProxy; the upstream's protocol lives in its transport.
//
// Before the request leaves, the proxy applies the edge's policy:
//   - the body is read in full under client_max_body_size (413 past it) and
//     sent with an exact Content-Length, chunked or not;
//   - X-Forwarded-For/-Proto/-Host are set by the edge, replacing what the
//     client sent unless the client is a trusted proxy;
//   - hop-by-hop headers (ReverseProxy's list), Expect, and Proxy (httpoxy,
//     CVE-2016-5385) are removed, and so is every header whose name contains
//     '_': in CGI variables X_Forwarded_For and X-Forwarded-For are the same
//     HTTP_X_FORWARDED_FOR, so one could pose as the other (nginx drops them
//     too: underscores_in_headers off).
type Proxy struct {
	upstream  *upstream.Group
	body      *bodyReader
	trust     proxyTrust
	buffering responseBuffering
	logger    *slog.Logger
	rp        *httputil.ReverseProxy
	errors    *prometheus.CounterVec // by kind; nil unless instrumented (metrics.go)
	accel     *site                  // the locations X-Accel-Redirect may reach (accel.go)
	ws        wsLimits               // for the connections it upgrades (websocket.go)
}

func newProxy(u *upstream.Group, body *bodyReader, trust proxyTrust, buf responseBuffering, logger *slog.Logger) *Proxy {
	p := &Proxy{upstream: u, body: body, trust: trust, buffering: buf, logger: logger, ws: wsLimits{idle: defaultWebSocketIdle}}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      u,
		BufferPool:     copyBuffers{},
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       log.New(slogWriter{logger}, "", 0),
	}
	return p
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var upgrading *clientWriter
	dropH2CUpgrade(r) // h2c.go
	if _, ok := r.Header["Upgrade"]; ok {
		var cancel context.CancelFunc
		upgrading, r, cancel = p.prepareUpgrade(w, r) // websocket.go
		defer cancel()
	}
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		body, err := p.body.read(w, r)
		if err != nil {
			p.body.refuse(w, r, err, p.logger)
			return
		}
		defer body.Close()
		r.Body = body
		r.ContentLength = body.size
		r.TransferEncoding = nil
		if body.size == 0 {
			r.Body = http.NoBody
		}
	}
	if cw, ok := w.(*clientWriter); ok && cw.traced {
		// The upstream records the server it used and its time in cw,
		// through the request's context.
		r = r.WithContext(upstream.WithTrace(r.Context(), &cw.upstream))
	}
	p.rp.ServeHTTP(w, r)
	if upgrading != nil {
		upgrading.ws = nil // a later hijack (the lingering close) is no switch
		if upgrading.hijacked != nil {
			p.upgradeEnded(upgrading, r)
		}
	}
}

// rewrite applies the forwarding policy to the outgoing request.
// ReverseProxy has already removed hop-by-hop headers and the inbound
// X-Forwarded-* headers (pr.In keeps them).
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	in, out := pr.In, pr.Out
	if _, ok := in.Header["User-Agent"]; !ok {
		// ReverseProxy sets an empty User-Agent after this hook (to keep
		// Go's own out); over uwsgi that would reach the app as a header
		// the client never sent. The uwsgi transport leaves it out.
		out = out.WithContext(upstream.WithoutUserAgent(out.Context()))
		pr.Out = out
	}
	if bb, ok := in.Body.(*bufferedBody); ok && out.Body != nil {
		// ReverseProxy wrapped it in a reader that fails once closed; the
		// upstream gives each attempt a fresh reader of its own instead.
		out.Body = bb
	}
	out.URL.Scheme = "http"
	out.URL.Host = p.upstream.Name
	// ReverseProxy drops a query it cannot parse ("q=100%", "a;b"); the
	// app gets the query as the client sent it, as nginx passes it. The
	// edge decides nothing on the query, so nothing is smuggled past it.
	out.URL.RawQuery = in.URL.RawQuery
	out.Header.Del("Proxy")
	out.Header.Del("Expect")
	// ReverseProxy puts back "TE: trailers" (for gRPC); the edge never
	// forwards a hop-by-hop header, and an app behind uwsgi has no use for it.
	out.Header.Del("Te")
	for name := range out.Header {
		if strings.IndexByte(name, '_') >= 0 {
			delete(out.Header, name)
		}
	}
	if out.ContentLength > 0 {
		out.Header["Content-Length"] = []string{strconv.FormatInt(out.ContentLength, 10)}
	}

	clientIP, port, _ := net.SplitHostPort(in.RemoteAddr)
	proto, host := "http", in.Host
	if in.TLS != nil {
		proto = "https"
	}
	xff := clientIP
	if peer, err := netip.ParseAddr(clientIP); err == nil && len(p.trust) > 0 && p.trust.trusts(peer) {
		// A trusted proxy's forwarding headers are kept and extended, and
		// the client is the nearest address it vouches for (nginx's realip
		// with real_ip_recursive on).
		if prior := strings.Join(in.Header["X-Forwarded-For"], ", "); prior != "" {
			xff = prior + ", " + clientIP
			if real := p.trust.realClient(prior); real != "" {
				out.RemoteAddr = net.JoinHostPort(real, "0")
			}
		}
		if v := in.Header.Get("X-Forwarded-Proto"); v == "http" || v == "https" {
			proto = v
		}
		if v := in.Header.Get("X-Forwarded-Host"); v != "" {
			host = v
		}
	} else if port != "" {
		out.RemoteAddr = in.RemoteAddr
	}
	fwd := make([]string, 3) // one allocation for the three headers
	fwd[0], fwd[1], fwd[2] = xff, proto, host
	out.Header["X-Forwarded-For"] = fwd[0:1:1]
	out.Header["X-Forwarded-Proto"] = fwd[1:2:2]
	out.Header["X-Forwarded-Host"] = fwd[2:3:3]
}

// modifyResponse follows the response's X-Accel-Redirect (accel.go) and
// applies its X-Accel-Buffering, then hides the other X-Accel-* headers:
// they are the app's instructions to the proxy, never meant for the
// client; nginx hides them too.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// Never buffered: the body is the connection (websocket.go).
		if err := checkSwitch(resp); err != nil {
			return err
		}
	} else if err := checkAccel(resp); err != nil {
		return err // served by errorHandler
	} else if err := p.buffering.modifyResponse(resp); err != nil {
		return err
	}
	for name := range resp.Header {
		if strings.HasPrefix(name, "X-Accel-") {
			delete(resp.Header, name)
		}
	}
	return nil
}

// errorHandler turns a failed round trip into nginx's answers: 504 when the
// upstream took too long to answer, 431 when the request cannot be
// encoded within the upstream's buffer, 503 with Retry-After when every
// server's queue was full, 502 for everything else (refused, reset, a
// broken response).
func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		// The client went away; nobody will read this answer, and the
		// upstream is not to blame. The access log says 499, as nginx's.
		p.logger.Debug("edge: client closed the connection before the upstream answered", "upstream", p.upstream.Name, "uri", r.RequestURI)
		return
	}
	if a, ok := errors.AsType[*accelRedirect](err); ok {
		p.accel.serveAccel(w, r, a, p)
		return
	}
	if err == errAccelLoop {
		p.logger.Error("edge: refusing a second X-Accel-Redirect", "upstream", p.upstream.Name, "uri", r.RequestURI, "request_id", headerValue(r.Header, HeaderRequestID))
		errpage.Write(w, http.StatusInternalServerError)
		return
	}
	status := upstream.Status(err)
	if p.errors != nil {
		p.errors.WithLabelValues(upstream.ErrorKind(err)).Inc()
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	p.logger.Error("edge: upstream failed", "upstream", p.upstream.Name, "uri", r.RequestURI, "status", status, "request_id", headerValue(r.Header, HeaderRequestID), "err", err)
	errpage.Write(w, status)
}

func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// copyBuffers lends ReverseProxy 32 KiB buffers for copying bodies.
type copyBuffers struct{}

var copyBufferPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (copyBuffers) Get() []byte  { return *copyBufferPool.Get().(*[]byte) }
func (copyBuffers) Put(b []byte) { copyBufferPool.Put(&b) }

// slogWriter adapts ReverseProxy's *log.Logger to slog.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn("edge: proxy: " + strings.TrimSpace(string(p)))
	return len(p), nil
}
