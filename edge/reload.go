package edge

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/stack-web/stack/edge/internal/chanlisten"
	"github.com/stack-web/stack/edge/internal/framing"
	"github.com/stack-web/stack/edge/internal/h1"
	"github.com/stack-web/stack/edge/tlscert"
)

// A reload must not refuse, reset or drop a single request. So:
//
//   - The listening sockets are never closed and reopened. One accept loop
//     per socket hands connections over a channel to whichever server
//     pair is current (a "generation").
//   - Settings that an http.Server reads per connection (header timeout and
//     size, keep-alive timeout) need a new generation. The old one stops
//     taking new connections but keeps serving the ones it has, keep-alive
//     included, until they end on their own; it is never shut down before
//     the edge is, because shutting down closes idle connections, and an
//     idle connection may have a request on the wire (nginx's reload resets
//     exactly those).
//   - Everything else is the state (see state.go), swapped atomically and
//     taken per request, so the next request on any connection, old or new,
//     sees the new configuration.

// acceptor is one listening socket.
type acceptor struct {
	addr string // as configured
	l    net.Listener
	tls  bool // a tls_listen address
}

// generation is one pair of servers and the listeners that feed them:
// plain HTTP connections go to the edge's own HTTP/1.1 server (h1), TLS
// ones, HTTP/2 included, to net/http's.
type generation struct {
	h1       *h1.Server
	srv      *http.Server
	l, tl    *chanlisten.Listener // plain, TLS
	settings serverSettings
}

// serverSettings are the parts of Config a server holds.
type serverSettings struct {
	headerTimeout, idleTimeout time.Duration
	maxHeader                  ByteSize
}

func settingsOf(c Config) serverSettings {
	return serverSettings{c.ClientHeaderTimeout, c.KeepaliveTimeout, c.MaxHeaderSize}
}

func (e *Edge) newGeneration(cfg Config) *generation {
	g := &generation{settings: settingsOf(cfg),
		l:  chanlisten.New(e.conns),
		tl: chanlisten.New(e.tlsConns)}
	errorLog := log.New(slogWriter{e.logger}, "", 0)
	g.srv = &http.Server{
		Handler:           e,
		ReadHeaderTimeout: cfg.ClientHeaderTimeout,
		IdleTimeout:       cfg.KeepaliveTimeout,
		MaxHeaderBytes:    serverMaxHeaderBytes(cfg.MaxHeaderSize),
		ConnContext:       framing.ConnContext,
		ConnState:         e.connState,
		ErrorLog:          errorLog,
	}
	g.h1 = &h1.Server{
		Handler:           e,
		ReadHeaderTimeout: cfg.ClientHeaderTimeout,
		IdleTimeout:       cfg.KeepaliveTimeout,
		MaxHeaderBytes:    serverMaxHeaderBytes(cfg.MaxHeaderSize),
		Limits:            e.guard.Limits,
		Refused:           e.guard.RefusedByServer,
		ConnState:         e.connState,
		ErrorLog:          errorLog,
		ContextServer:     g.srv,
	}
	// net/http would answer "OPTIONS *" itself, without the handler taking
	// that request's framing verdict; serve answers it.
	g.srv.DisableGeneralOptionsHandler = true
	return g
}

// startGeneration serves g's connections; e.mu is held.
func (e *Edge) startGeneration(g *generation) {
	e.wg.Go(func() { g.srv.Serve(g.tl) })
	e.wg.Go(func() { g.h1.Serve(g.l) })
}

// stopTaking makes g take no new connection; those it has stay.
func (g *generation) stopTaking() {
	g.l.Close()
	g.tl.Close()
}

// shutdown ends g's connections as Edge.Shutdown does: idle ones at once,
// the others when their request is done or ctx ends.
func (g *generation) shutdown(ctx context.Context) error {
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

// startAccept runs a's accept loop; e.mu is held.
func (e *Edge) startAccept(a *acceptor) {
	e.wg.Go(func() {
		// A plain connection's head is checked by h1's parser itself; a
		// TLS one's by the framing tracker, over the decrypted bytes
		// (tls_accept.go).
		l := a.l
		pause := 5 * time.Millisecond
		for {
			c, err := l.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				// Out of descriptors, or the like: wait as net/http does.
				e.logger.Error("edge: accept", "listen", a.addr, "err", err, "retry_in", pause)
				select {
				case <-time.After(pause):
				case <-e.done:
					return
				}
				pause = min(2*pause, time.Second)
				continue
			}
			pause = 5 * time.Millisecond
			if a.tls {
				e.startHandshake(c)
				continue
			}
			select {
			case e.conns <- c:
			case <-e.done:
				c.Close()
				return
			}
		}
	})
}

// openMissing opens the addresses of want (TLS ones if tls) that have no
// listener yet; e.mu is held. On error, what it opened is closed again.
func (e *Edge) openMissing(want []string, tls bool) ([]*acceptor, error) {
	var lc net.ListenConfig
	var opened []*acceptor
	for _, addr := range want {
		if slices.ContainsFunc(e.listeners, func(a *acceptor) bool { return a.addr == addr && a.tls == tls }) {
			continue
		}
		l, err := lc.Listen(context.Background(), "tcp", addr)
		if err != nil {
			for _, a := range opened {
				a.l.Close()
			}
			return nil, fmt.Errorf("edge: listen on %s: %w", addr, err)
		}
		opened = append(opened, &acceptor{addr: addr, l: l, tls: tls})
	}
	return opened, nil
}

// ErrClosed is what Reload returns once Shutdown or Close has begun: a
// reload that raced the stop, which the caller drops.
var ErrClosed = errors.New("edge: reload after shutdown")

// Reload applies cfg to new requests: locations, upstreams, limits,
// timeouts and the access log. Listening sockets stay open; an address
// added is opened and one removed is closed. Requests in flight finish on
// the configuration they started with, and no connection is closed. On
// error nothing has changed; after Shutdown or Close the error is
// ErrClosed. It is PrepareReload then Commit.
func (e *Edge) Reload(cfg Config) error {
	p, err := e.PrepareReload(cfg)
	if err != nil {
		return err
	}
	return p.Commit()
}

// PendingReload is a configuration the edge has made ready but not
// applied: its state built, its certificates loaded, its new addresses
// listening (so a port in use is found here). Meanwhile the edge serves
// the old one. Commit applies it, Abort drops it; one of the two must be
// called. It lets the stack apply a reload to every tier or to none.
type PendingReload struct {
	e      *Edge
	cfg    Config
	certs  *tlscert.Certs
	st     *state
	opened []*acceptor
}

// PrepareReload does what may fail in a Reload of cfg, changing nothing
// the edge serves.
func (e *Edge) PrepareReload(cfg Config) (*PendingReload, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	certs, err := loadTLS(e.tls, cfg)
	if err != nil {
		return nil, err
	}
	st, err := newState(cfg, e.tempDir, e.logger)
	if err != nil {
		return nil, err
	}
	if e.metrics != nil {
		e.metrics.attach(st)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped || e.closed {
		st.release()
		return nil, ErrClosed
	}
	opened, err := e.openAll(cfg)
	if err != nil {
		st.release()
		return nil, err
	}
	return &PendingReload{e: e, cfg: cfg, certs: certs, st: st, opened: opened}, nil
}

// Abort drops p: its state is released and the addresses it opened are
// closed.
func (p *PendingReload) Abort() {
	p.st.release()
	for _, a := range p.opened {
		a.l.Close()
	}
}

// Commit applies p (after Shutdown or Close began: ErrClosed, and p is
// dropped).
func (p *PendingReload) Commit() error {
	e, cfg, st := p.e, p.cfg, p.st
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped || e.closed {
		p.Abort()
		return ErrClosed
	}
	st.limits.Inherit(&e.cur.Load().limits.Zones) // zones kept across reloads, as nginx's (edge/internal/limitzone)
	old := e.cur.Swap(st)
	useTLS(e.tls, cfg, p.certs)
	e.guard.Set(int64(cfg.MaxHeaderSize), st.access)
	if s := settingsOf(cfg); s != e.gen.settings {
		g := e.newGeneration(cfg)
		if e.serving {
			e.startGeneration(g)
		}
		e.gen.stopTaking() // its connections stay; new ones go to g
		e.gen = g
		e.gens = append(e.gens, g)
	}
	kept := e.listeners[:0]
	for _, a := range e.listeners {
		if a.wanted(cfg) {
			kept = append(kept, a)
		} else {
			a.l.Close()
			e.logger.Info("edge: stopped listening", "listen", a.addr)
		}
	}
	e.listeners = kept
	for _, a := range p.opened {
		e.listeners = append(e.listeners, a)
		if e.serving {
			e.startAccept(a)
		}
		e.logger.Info("edge: listening", "listen", a.addr, "addr", a.l.Addr().String())
	}
	old.release()
	e.logger.Info("edge: configuration reloaded", "locations", len(cfg.Locations), "servers", len(cfg.Servers), "upstreams", len(cfg.Upstreams), "listen", cfg.Listen)
	return nil
}

// serverMaxHeaderBytes is what the servers are told: enough above the limit
// that the edge, not net/http, refuses the heads that are just over it
// (edge/internal/headguard).
func serverMaxHeaderBytes(maxHead ByteSize) int { return 2 * int(maxHead) }
