package edge

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stack-web/stack/edge/internal/accel"
	"github.com/stack-web/stack/edge/internal/errpage"
	"github.com/stack-web/stack/edge/internal/forward"
	"github.com/stack-web/stack/edge/internal/limitzone"
	"github.com/stack-web/stack/edge/internal/proxytrust"
	"github.com/stack-web/stack/edge/internal/reqbody"
	"github.com/stack-web/stack/edge/internal/respbuf"
	"github.com/stack-web/stack/edge/internal/tunnel"
	"github.com/stack-web/stack/edge/upstream"
)

// Proxy is a location that passes requests to an upstream through the
// edge's forwarder (edge/internal/forward); the upstream's protocol lives in its
// transport.
//
// Before the request leaves, the proxy applies the edge's policy:
//   - the body is read in full under client_max_body_size (413 past it) and
//     sent with an exact Content-Length, chunked or not;
//   - X-Forwarded-For/-Proto/-Host are set by the edge, replacing what the
//     client sent unless the client is a trusted proxy;
//   - hop-by-hop headers (ReverseProxy's list and those Connection names),
//     Expect, Forwarded and Proxy (httpoxy, CVE-2016-5385) are removed, and
//     so is every header whose name contains '_': in CGI variables
//     X_Forwarded_For and X-Forwarded-For are the same
//     HTTP_X_FORWARDED_FOR, so one could pose as the other (nginx drops them
//     too: underscores_in_headers off).
type Proxy struct {
	upstream  *upstream.Group
	body      *reqbody.Reader
	trust     proxytrust.List
	buffering respbuf.Policy
	logger    *slog.Logger
	fw        forward.Forwarder
	errors    *prometheus.CounterVec // by kind; nil unless instrumented (metrics.go)
	accel     *site                  // the locations X-Accel-Redirect may reach (accel.go)
	ws        wsLimits               // for the connections it upgrades (websocket.go)
	counted   limitzone.Counted      // the limits of its location, not applied again after a redirect (accel.go)
}

func newProxy(u *upstream.Group, body *reqbody.Reader, trust proxytrust.List, buf respbuf.Policy, logger *slog.Logger) *Proxy {
	p := &Proxy{upstream: u, body: body, trust: trust, buffering: buf, logger: logger, ws: wsLimits{idle: defaultWebSocketIdle}}
	p.fw = forward.Forwarder{Group: u, HTTPUpstream: u.Protocol() == "http", Logger: logger, Modify: p.modifyResponse, Fail: p.errorHandler, Writer: clientConn}
	return p
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var upgrading *clientWriter
	if _, ok := r.Header["Upgrade"]; ok && !tunnel.DropRefusedUpgrade(r) {
		var cancel context.CancelFunc
		upgrading, r, cancel = p.prepareUpgrade(w, r) // websocket.go
		defer cancel()
	}
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		body, err := p.body.Read(w, r)
		if err != nil {
			refuseBody(w, r, p.body, err, p.logger)
			return
		}
		defer body.Close()
		r.Body = body
		r.ContentLength = body.Size()
		r.TransferEncoding = nil
		if body.Size() == 0 {
			r.Body = http.NoBody
		}
	}
	// The edge's writer may be under a location's wrappers (compression).
	cw := findClientWriter(w)
	if cw != nil && cw.traced {
		// The upstream records the server it used and its time in cw,
		// through the request's context.
		r = r.WithContext(upstream.WithTrace(r.Context(), &cw.upstream))
	}
	var fwd []string
	if cw != nil {
		fwd = cw.fwdHeaders[:] // no allocation: the writer lives as long as the request
	}
	out, err := p.outgoing(r, fwd)
	if err != nil {
		p.errorHandler(w, r, err)
		return
	}
	p.fw.Forward(w, out)
	if upgrading != nil {
		upgrading.ws = nil // a later hijack (the lingering close) is no switch
		if upgrading.hijacked != nil {
			p.upgradeEnded(upgrading, r)
		}
	}
}

// outgoing applies the forwarding policy and returns the request to send
// upstream: r itself, its header edited in place (the handler owns it, and
// a transport only reads a request), or a shallow copy where a field must
// differ from the client's request.
//
// fwd, if not nil, holds the three X-Forwarded-* values.
func (p *Proxy) outgoing(r *http.Request, fwd []string) (*http.Request, error) {
	h := r.Header
	// The forwarding fields are read before StripRequest removes the
	// client's.
	xff, proto, host, remote := p.trust.Forwarded(r)
	if _, err := forward.StripRequest(h); err != nil {
		return nil, err
	}
	if r.ContentLength > 0 {
		h["Content-Length"] = []string{strconv.FormatInt(r.ContentLength, 10)}
	}
	if len(fwd) < 3 {
		fwd = make([]string, 3) // one allocation for the three headers
	}
	fwd[0], fwd[1], fwd[2] = xff, proto, host
	h["X-Forwarded-For"] = fwd[0:1:1]
	h["X-Forwarded-Proto"] = fwd[1:2:2]
	h["X-Forwarded-Host"] = fwd[2:3:3]

	out := r
	if remote != r.RemoteAddr || p.fw.HTTPUpstream {
		out = new(http.Request)
		*out = *r
		out.RemoteAddr = remote
	}
	if p.fw.HTTPUpstream {
		// net/http's transport dials by the URL (its own dialer picks
		// the server), closes after a request marked Close, and sends Go's
		// User-Agent where the header has none.
		u := *r.URL
		u.Scheme, u.Host = "http", p.upstream.Name
		out.URL = &u
		out.Close = false
		if _, ok := h["User-Agent"]; !ok {
			h["User-Agent"] = []string{""}
		}
	}
	return out, nil
}

// modifyResponse follows the response's X-Accel-Redirect (accel.go) and
// applies its X-Accel-Buffering, then hides the other X-Accel-* headers:
// they are the app's instructions to the proxy, never meant for the
// client; nginx hides them too.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// Never buffered: the body is the connection (websocket.go).
		if err := tunnel.CheckSwitch(resp); err != nil {
			return err
		}
	} else if err := checkAccel(resp); err != nil {
		return err // served by errorHandler
	} else if err := p.buffering.ModifyResponse(resp); err != nil {
		return err
	}
	return nil // the X-Accel-* headers are left out as the head is copied (edge/internal/forward)
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
	if a, ok := errors.AsType[*accel.Redirect](err); ok {
		p.accel.serveAccel(w, r, a, p)
		return
	}
	if err == accel.ErrLoop {
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

// clientConn is the server's writer under the edge's clientWriter in w, nil
// if w has none: the forwarder aborts a broken response by a panic when it
// is a connection.
func clientConn(w http.ResponseWriter) http.ResponseWriter {
	if cw := findClientWriter(w); cw != nil {
		return cw.ResponseWriter
	}
	return nil
}

func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// slogWriter adapts a *log.Logger (net/http's server's ErrorLog) to slog.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn("edge: proxy: " + strings.TrimSpace(string(p)))
	return len(p), nil
}
