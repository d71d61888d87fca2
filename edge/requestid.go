package edge

import (
	"net"
	"net/http"
	"net/netip"
	"unsafe"

	"github.com/stack-web/stack/edge/internal/proxytrust"
	"github.com/stack-web/stack/edge/internal/reqid"
)

// Request ids (issue 9): the edge gives every request an id, nginx's
// $request_id: 32 hex digits (128 random bits), or keeps the one a
// trusted proxy in front sent in X-Request-Id, so one id follows a
// request through every tier. The app receives it as the header
// X-Request-Id and the uwsgi variable STACK_REQUEST_ID; the edge's JSON
// access log and error lines and the app server's lines carry it.

// HeaderRequestID carries the id to the app (and from a trusted proxy).
const HeaderRequestID = "X-Request-Id"

// setRequestID decides r's id, records it in w for the logs, and puts it
// in r's header for the upstream, replacing what an untrusted client sent
// (a client must not choose the id other tiers' logs are searched by).
// The header's one-element slice lives in w, so setting it costs nothing.
func (w *clientWriter) setRequestID(r *http.Request, trust proxytrust.List) {
	id := ""
	if v := r.Header[HeaderRequestID]; len(v) == 1 && len(trust) > 0 && reqid.Valid(v[0]) {
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			if peer, err := netip.ParseAddr(host); err == nil && trust.Trusts(peer) {
				id = v[0]
			}
		}
	}
	if id == "" {
		// The id's bytes are the writer's, which is never reused: the
		// string stays valid, and unchanged, as long as anything holds it.
		reqid.Fill(&w.idBytes)
		id = unsafe.String(&w.idBytes[0], len(w.idBytes))
	}
	w.requestID = id
	w.idHeader[0] = id
	r.Header[HeaderRequestID] = w.idHeader[:]
}
