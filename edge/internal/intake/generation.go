package intake

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/stack-web/stack/edge/internal/chanlisten"
	"github.com/stack-web/stack/edge/internal/framing"
	"github.com/stack-web/stack/edge/internal/h1"
	"github.com/stack-web/stack/edge/internal/headguard"
)

// Generation is one pair of servers and the listeners that feed them:
// plain HTTP connections go to the edge's own HTTP/1.1 server (h1), TLS
// ones, HTTP/2 included, to net/http's.
type Generation struct {
	h1       *h1.Server
	srv      *http.Server
	l, tl    *chanlisten.Listener // plain, TLS
	settings Settings
}

// Settings are the parts of the configuration a server holds: a change
// of any needs a new generation.
type Settings struct {
	HeaderTimeout, IdleTimeout time.Duration
	MaxHeader                  int64 // max_header_size
}

// Servers is what every generation's servers share.
type Servers struct {
	Handler   http.Handler
	Conns     chan net.Conn // accepted plain connections
	TLSConns  chan net.Conn // TLS ones, handshake done
	Guard     *headguard.Guard
	ConnState func(net.Conn, http.ConnState)
	ErrorLog  *log.Logger
}

// New is the generation of servers with settings s, fed from sv's
// channels once it serves.
func (sv *Servers) New(s Settings) *Generation {
	g := &Generation{settings: s,
		l:  chanlisten.New(sv.Conns),
		tl: chanlisten.New(sv.TLSConns)}
	g.srv = &http.Server{
		Handler:           sv.Handler,
		ReadHeaderTimeout: s.HeaderTimeout,
		IdleTimeout:       s.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes(s.MaxHeader),
		ConnContext:       framing.ConnContext,
		ConnState:         sv.ConnState,
		ErrorLog:          sv.ErrorLog,
	}
	g.h1 = &h1.Server{
		Handler:           sv.Handler,
		ReadHeaderTimeout: s.HeaderTimeout,
		IdleTimeout:       s.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes(s.MaxHeader),
		Limits:            sv.Guard.Limits,
		Refused:           sv.Guard.RefusedByServer,
		ConnState:         sv.ConnState,
		ErrorLog:          sv.ErrorLog,
		ContextServer:     g.srv,
	}
	// net/http would answer "OPTIONS *" itself, without the handler taking
	// that request's framing verdict; the edge's handler answers it.
	g.srv.DisableGeneralOptionsHandler = true
	return g
}

// Settings are g's.
func (g *Generation) Settings() Settings { return g.settings }

// Start serves g's connections, in goroutines of wg.
func (g *Generation) Start(wg *sync.WaitGroup) {
	wg.Go(func() { g.srv.Serve(g.tl) })
	wg.Go(func() { g.h1.Serve(g.l) })
}

// StopTaking makes g take no new connection; those it has stay.
func (g *Generation) StopTaking() {
	g.l.Close()
	g.tl.Close()
}

// Shutdown ends g's connections as Edge.Shutdown does: idle ones at once,
// the others when their request is done or ctx ends.
func (g *Generation) Shutdown(ctx context.Context) error {
	var wg sync.WaitGroup
	var errTLS error
	wg.Go(func() {
		if errTLS = g.srv.Shutdown(ctx); errTLS != nil {
			g.srv.Close()
		}
	})
	err := g.h1.Shutdown(ctx)
	if err != nil {
		g.h1.Close()
	}
	wg.Wait()
	return errors.Join(err, errTLS)
}

// maxHeaderBytes is what the servers are told: enough above the limit
// that the edge, not net/http, refuses the heads that are just over it
// (edge/internal/headguard).
func maxHeaderBytes(maxHead int64) int { return 2 * int(maxHead) }
