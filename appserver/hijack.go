package appserver

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/stack-web/stack/uwsgi"
)

// http.Hijacker, so that an app's WebSocket library works behind the edge.
//
// Over uwsgi the response's Hijack hands the handler the connection itself
// (a duplicate of its descriptor, a net.Conn with deadlines of its own):
// the head the handler set is written first when it called WriteHeader
// (coder/websocket's way: WriteHeader(101), then Hijack), else nothing
// (gorilla/websocket writes its own). From there the connection is the
// handler's: no response framing (STACK_RESPONSE_FRAMING), no
// keep-alive, no socket_timeout.
//
// Harakiri bounds a request, not a connection: a hijacked connection is
// out of the watchdog's sight from the hijack on, as uWSGI's harakiri
// spares its WebSocket loops' waits (its async cores). A WebSocket served
// inside its handler still holds its threads slot while it lasts. The
// edge's per-location websocket limits (idle_timeout, max_lifetime) bound
// it instead.
//
// Shutdown (a worker's stop, a chain reload) waits for hijacked
// connections as for requests, until its grace period ends, and then
// closes them (the set is package internal/hijack's).
//
// Over http the hijack is net/http's own; over FastCGI there is no
// connection to hand over (a FastCGI request is records on a shared
// connection), and Hijack says so (both: package internal/stdserver).

var _ http.Hijacker = (*response)(nil)

// Hijack takes the connection over (see above).
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	switch {
	case w.hijacked:
		return nil, nil, http.ErrHijacked
	case w.srv == nil || w.cs == nil:
		return nil, nil, fmt.Errorf("appserver: Hijack: %w", http.ErrNotSupported)
	case w.aborted || w.cs.killed.Load():
		return nil, nil, errors.New("appserver: Hijack after the response was aborted (harakiri or panic)")
	case w.err != nil:
		return nil, nil, fmt.Errorf("appserver: Hijack after a failed write: %w", w.err)
	}
	d, ok := w.cs.c.(detacher)
	if !ok {
		return nil, nil, fmt.Errorf("appserver: Hijack: connection type %T: %w", w.cs.c, http.ErrNotSupported)
	}
	if w.wroteHeader && !w.committed {
		w.writeRawHead()
	}
	if err := w.out.Flush(); err != nil {
		w.err = err
		return nil, nil, fmt.Errorf("appserver: Hijack: writing the response head: %w", err)
	}
	if w.cs.gate != nil {
		w.cs.end() // out of harakiri's sight from here
	}
	nc, err := d.Detach()
	if err != nil {
		return nil, nil, fmt.Errorf("appserver: Hijack: %w", err)
	}
	// Bytes the peer sent after the request (a WebSocket frame that
	// followed the handshake) are the handler's.
	var early []byte
	if n := w.br.Buffered(); n > 0 {
		b, _ := w.br.Peek(n)
		early = append([]byte(nil), b...)
		w.br.Discard(n)
	}
	w.hijacked = true
	w.committed = true
	if w.status == 0 {
		w.status = http.StatusSwitchingProtocols // for the request log
	}
	hc := w.srv.hijacks.Track(nc, early)
	if w.srv.OnHijack != nil {
		w.srv.OnHijack(w.req)
	}
	return hc, bufio.NewReadWriter(bufio.NewReader(hc), bufio.NewWriter(hc)), nil
}

// writeRawHead writes the status line and the header as the handler set
// them, Connection and Upgrade included, and what body it held back: no
// framing of ours, since the connection is about to be the handler's.
func (w *response) writeRawHead() {
	w.committed = true
	h := w.header
	delete(h, "Transfer-Encoding")
	delete(h, uwsgi.KeepAliveHeader)
	if !bodyAllowed(w.status) {
		delete(h, "Content-Length")
	}
	w.dropBadValues()
	w.out.WriteString(statusLine(w.status))
	h.Write(w.out)
	w.out.WriteString("\r\n")
	w.out.Write(w.pending)
	w.pending = w.pending[:0]
}

// detacher is a connection that can hand over its socket (both of
// package sockconn's).
type detacher interface {
	// Detach returns a net.Conn on the same socket that outlives the
	// connection's Close (which then only releases what it holds).
	Detach() (net.Conn, error)
}

// CloseHijacked closes the connections handlers hijacked (their handlers
// then see them end) and reports how many: a worker draining for a reload
// does at the end of shutdown_timeout.
func (s *Server) CloseHijacked() int { return s.hijacks.CloseAll() }

// CloseHijacked passes the call on to the service allowed.
func (s allowService) CloseHijacked() int {
	if h, ok := s.Service.(interface{ CloseHijacked() int }); ok {
		return h.CloseHijacked()
	}
	return 0
}

// hijackEnded ends serveRequest for a request whose handler hijacked the
// connection: it is counted and logged (status 101, or what the handler
// set), and only what the server held is released; the socket is the
// handler's.
func (s *Server) hijackEnded(cs *conn, w *response, start time.Time, panicked bool) bool {
	s.served.Add(1)
	if s.LogRequests {
		s.logRequest(w, start, panicked)
	}
	if s.OnRequest != nil {
		s.OnRequest(time.Since(start), w.written, panicked)
	}
	cs.c.Close() // the original descriptor (sockconn.FD), or nothing (sockconn.Net)
	return false
}
