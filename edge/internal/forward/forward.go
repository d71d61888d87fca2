// Package forward passes one request to an upstream group and the group's
// answer back to the client: the edge's own httputil.ReverseProxy, cut
// down to what the edge needs, because it runs on every proxied request.
// It stands alone because it is the proxying mechanism alone: the policy
// (which headers the edge sets, buffering, X-Accel-Redirect, error
// answers) is the caller's, through the Modify and Fail hooks.
package forward

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/stack-web/stack/edge/internal/reqid"
	"github.com/stack-web/stack/edge/internal/respbuf"
	"github.com/stack-web/stack/edge/internal/tunnel"
	"github.com/stack-web/stack/edge/upstream"
)

// Forwarder passes one request to an upstream group and the group's answer
// back to the client: the edge's own httputil.ReverseProxy, cut down to what
// the edge needs, because it runs on every proxied request. What it does
// not do, and why:
//
//   - no full Clone of the request: a transport only reads the request,
//     so the client's request goes out as it is, its header edited in
//     place (the handler owns it); a shallow copy is made only where a
//     field must differ (the http transport's URL, a trusted proxy's
//     client address);
//   - no canonicalisation of every header name to strip hop-by-hop ones:
//     the names are canonical already (the server made them so), and one
//     pass over the header removes them (headerDropped);
//   - no copy of the upstream's values into new slices: the client's
//     header takes the upstream's slices (capped at their length, so an
//     append reallocates rather than writes into a neighbour);
//   - no 1xx pass-through: an interim answer is skipped, as the uwsgi
//     transport and nginx without early_hints do (the edge answered the
//     client's Expect itself);
//   - no flush timer: a response is flushed after each write only when it
//     is a stream (text/event-stream, or no length known), as
//     ReverseProxy with FlushInterval 0 does.
//
// What it keeps from ReverseProxy: the error handler gets the outgoing
// request; a response hook may refuse a response (modify) or replace its
// body; a body that fails midway aborts the client's response
// (panic(http.ErrAbortHandler) under a server, so neither a final chunk nor
// a completed Content-Length goes out: contract 1); a 101 to an upgrade
// request takes the client's connection over (upgrade.go).
type Forwarder struct {
	Group *upstream.Group
	// HTTPUpstream: the transport is net/http's, which dials by the URL,
	// honours req.Close and adds a User-Agent of its own when none is set.
	HTTPUpstream bool
	Logger       *slog.Logger
	// Modify sees the response before its head is copied; an error
	// answers the request through Fail instead (the body is closed).
	Modify func(*http.Response) error
	// Fail answers a request whose round trip (or Modify) failed.
	Fail func(http.ResponseWriter, *http.Request, error)
	// Writer unwraps w to the front's own writer, if any: a response
	// through one whose writer is a connection (a Hijacker) is aborted
	// with a panic too (Abortable).
	Writer func(http.ResponseWriter) http.ResponseWriter
}

// Forward sends out (whose header is already the one to send) and copies
// the answer to w.
func (f *Forwarder) Forward(w http.ResponseWriter, out *http.Request) {
	resp, err := f.Group.RoundTrip(out)
	if err != nil {
		f.Fail(w, out, err)
		return
	}
	if rh, ok := resp.Body.(headReleaser); ok && resp.StatusCode != http.StatusSwitchingProtocols {
		// Last, whatever the way out (an abort's panic too): nothing
		// reads the head once Forward has returned.
		defer rh.ReleaseHead()
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		if err := f.Modify(resp); err != nil {
			resp.Body.Close()
			f.Fail(w, out, err)
			return
		}
		f.switchProtocols(w, out, resp) // upgrade.go
		return
	}
	if c, ok := resp.Header["Connection"]; ok {
		removeListed(resp.Header, c)
	}
	// The announced trailer is read before Modify: the response
	// buffering's pump may read the body to its end from then on, and
	// net/http's body fills resp.Trailer there.
	announced := len(resp.Trailer)
	var trailer string
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range resp.Trailer {
			keys = append(keys, k)
		}
		trailer = strings.Join(keys, ", ")
	}
	if err := f.Modify(resp); err != nil {
		resp.Body.Close()
		f.Fail(w, out, err)
		return
	}
	h := w.Header()
	copyHeader(h, resp.Header, true)
	if announced > 0 {
		h["Trailer"] = append(h["Trailer"], trailer)
	}
	w.WriteHeader(resp.StatusCode)

	if err := f.copyBody(w, resp); err != nil {
		resp.Body.Close()
		if out.Context().Err() != nil {
			f.Logger.Debug("edge: client went away during the response", "upstream", f.Group.Name, "uri", out.RequestURI, "err", err)
		} else if !errors.Is(err, errClientWrite) {
			f.Logger.Warn("edge: upstream response body failed; aborting the client's response", "upstream", f.Group.Name,
				"uri", out.RequestURI, "request_id", headerValue(out.Header, reqid.Header), "err", err)
		}
		if f.abortable(w, out) {
			panic(http.ErrAbortHandler)
		}
		return
	}
	resp.Body.Close() // now, not deferred: it fills resp.Trailer
	if len(resp.Trailer) > 0 {
		// Forces chunking: net/http would otherwise send a short body
		// with a Content-Length, and no trailer.
		http.NewResponseController(w).Flush()
		if len(resp.Trailer) == announced {
			copyHeader(h, resp.Trailer, false)
			return
		}
		for k, vv := range resp.Trailer {
			h[http.TrailerPrefix+k] = append(h[http.TrailerPrefix+k], vv...)
		}
	}
}

// abortable reports whether a panic with http.ErrAbortHandler is caught:
// under a server, which then closes the connection mid-response. That is
// net/http's (its context names it, as ReverseProxy checks) or another
// front whose writer is a connection (a Hijacker under the edge's
// clientWriter). A handler called directly (a test's recorder) gets a
// plain return.
func (f *Forwarder) abortable(w http.ResponseWriter, r *http.Request) bool {
	if r.Context().Value(http.ServerContextKey) != nil {
		return true
	}
	if f.Writer != nil {
		if cw := f.Writer(w); cw != nil {
			_, ok := cw.(http.Hijacker)
			return ok
		}
	}
	return false
}

// errClientWrite marks a failed write to the client: the client is gone,
// nothing worth a warning.
var errClientWrite = errors.New("writing the response to the client")

// copyBody copies the response body to w, flushing after each write when
// the response is a stream. A body held whole in memory (a small buffered
// response, or one that has all arrived in the transport's buffer) is one
// write, without a copy buffer.
func (f *Forwarder) copyBody(w http.ResponseWriter, resp *http.Response) error {
	if wb, ok := resp.Body.(wholeBody); ok {
		if p, ok := wb.Whole(); ok {
			if _, err := w.Write(p); err != nil {
				return fmt.Errorf("%w: %w", errClientWrite, err)
			}
			return nil
		}
	}
	var flush func()
	// A body the edge does not buffer (X-Accel-Buffering: no, buffering:
	// false) is flushed read by read whatever its length, as nginx's
	// unbuffered proxying sends each read at once: with a Content-Length
	// it used to wait in the connection's buffer until the app was done.
	// A small body that has all come (Whole, above) never gets here.
	if live := !respbuf.Buffers(resp.Body); live || streamed(resp) {
		flush = flusherOf(w)
		if live {
			markLive(w)
		}
		if r, ok := resp.Body.(interface{ Buffered() int }); !ok || r.Buffered() == 0 {
			// The body may be a while coming (server-sent events): the
			// client gets the head now.
			flush()
		}
	}
	bp := respbuf.CopyBuffers.Get().(*[]byte)
	defer respbuf.CopyBuffers.Put(bp)
	buf := *bp
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return fmt.Errorf("%w: %w", errClientWrite, werr)
			}
			if flush != nil {
				flush()
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// headReleaser is the uwsgi transport's body: its response's header map
// is pooled, given back by ReleaseHead.
type headReleaser interface{ ReleaseHead() }

// wholeBody is a body that may be all in memory already
// (respbuf.MemBody, and the uwsgi transport's body when all of it has
// arrived): Whole returns the rest and counts it as read; the bytes are
// valid until Close.
type wholeBody interface{ Whole() ([]byte, bool) }

// streamed reports whether the response is flushed as it comes: a
// server-sent event stream, or a body of unknown length (ReverseProxy's
// rule with FlushInterval 0).
func streamed(resp *http.Response) bool {
	if resp.ContentLength == -1 {
		return resp.Body != http.NoBody
	}
	ct := resp.Header["Content-Type"]
	if len(ct) == 0 {
		return false
	}
	base, _, _ := strings.Cut(ct[0], ";")
	return strings.EqualFold(strings.TrimSpace(base), "text/event-stream")
}

// markLive tells the writer under w that wants to know (the compressor's,
// edge/compress) that the response is an unbuffered stream, each of whose
// flushes must reach the client: a buffered one is compressed into fewer,
// larger chunks.
func markLive(w http.ResponseWriter) {
	for {
		switch x := w.(type) {
		case interface{ LiveStream() }:
			x.LiveStream()
			return
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return
		}
	}
}

// flusherOf returns w's Flush, ignoring its error as ReverseProxy does (a
// client gone fails the next write instead).
func flusherOf(w http.ResponseWriter) func() {
	if fl, ok := w.(http.Flusher); ok {
		return fl.Flush
	}
	rc := http.NewResponseController(w)
	return func() { rc.Flush() }
}

// copyHeader adds src's fields to dst. A field dst lacks takes src's
// slice itself. With response set, hop-by-hop fields and the app's
// X-Accel-* instructions to the proxy (which nginx hides too) are left
// out.
func copyHeader(dst, src http.Header, response bool) {
	for k, vv := range src {
		if response && (hopByHop(k) || strings.HasPrefix(k, "X-Accel-")) {
			continue
		}
		if prev, ok := dst[k]; ok {
			dst[k] = append(prev, vv...)
		} else {
			dst[k] = vv
		}
	}
}

// hopByHop reports whether name is a hop-by-hop field of ReverseProxy's
// list (RFC 9110 §7.6.1, and the older ones it still removes). Names are
// canonical, as both the server and the transports store them.
func hopByHop(name string) bool {
	switch name {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// removeListed removes the fields a Connection header names (RFC 9110
// §7.6.1): the only names canonicalised, and only when Connection is
// present. The edge's own X-Request-Id is kept: a client cannot take away
// the id the logs of every tier are searched by.
func removeListed(h http.Header, connection []string) {
	for _, v := range connection {
		for name := range strings.SplitSeq(v, ",") {
			if name = textproto.TrimString(name); name != "" {
				if key := textproto.CanonicalMIMEHeaderKey(name); key != reqid.Header {
					delete(h, key)
				}
			}
		}
	}
}

// StripRequest removes, in one pass over h (the client's request header,
// which the edge owns), what never goes upstream: the hop-by-hop fields
// (those Connection names too), Proxy (httpoxy, CVE-2016-5385), Expect
// (the edge answered it), the forwarding fields (the edge sets its own),
// and every name with '_' (in CGI variables X_Forwarded_For and
// X-Forwarded-For are the same HTTP_X_FORWARDED_FOR). It returns the protocol the request
// asks to switch to, for which Connection and Upgrade are put back.
func StripRequest(h http.Header) (upgrade string, err error) {
	if c, ok := h["Connection"]; ok {
		if _, ok := h["Upgrade"]; ok {
			upgrade = tunnel.SwitchedTo(h)
			if strings.ContainsFunc(upgrade, func(r rune) bool { return r < ' ' || r > '~' }) {
				return "", fmt.Errorf("client tried to switch to invalid protocol %q", upgrade)
			}
		}
		removeListed(h, c)
	}
	for name := range h {
		if hopByHop(name) || strings.IndexByte(name, '_') >= 0 {
			delete(h, name)
			continue
		}
		switch name {
		case "Proxy", "Expect", "Forwarded", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host":
			delete(h, name)
		}
	}
	if upgrade != "" {
		h["Connection"] = []string{"Upgrade"}
		h["Upgrade"] = []string{upgrade}
	}
	return upgrade, nil
}

func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}
