package edge

import (
	"errors"

	"github.com/stack-web/stack/edge/internal/intake"
	"github.com/stack-web/stack/edge/tlscert"
)

// A reload must not refuse, reset or drop a single request: the listening
// sockets are kept and feed the server generations (edge/internal/intake
// says how); a generation is replaced only when settings a server holds
// change. Everything else is the state (see state.go), swapped atomically
// and taken per request, so the next request on any connection, old or
// new, sees the new configuration.

// settingsOf is the part of c the servers of a generation hold.
func settingsOf(c Config) intake.Settings {
	return intake.Settings{HeaderTimeout: c.ClientHeaderTimeout, IdleTimeout: c.KeepaliveTimeout, MaxHeader: int64(c.MaxHeaderSize)}
}

// startAccept runs a's accept loop; e.mu is held.
func (e *Edge) startAccept(a *intake.Listener) {
	e.wg.Go(func() { a.Accept(e.logger, e.done, e.conns, e.startHandshake) })
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
	opened []*intake.Listener
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
	st, err := newState(cfg, e.tempDir, e.logger, e.census)
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
	opened, err := intake.OpenAll(e.listeners, cfg.Listen, cfg.TLSListen)
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
	intake.CloseAll(p.opened)
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
	if s := settingsOf(cfg); s != e.gen.Settings() {
		g := e.servers.New(s)
		if e.serving {
			g.Start(&e.wg)
		}
		e.gen.StopTaking() // its connections stay; new ones go to g
		e.gen = g
		e.gens = append(e.gens, g)
	}
	kept := e.listeners[:0]
	for _, a := range e.listeners {
		if a.Wanted(cfg.Listen, cfg.TLSListen) {
			kept = append(kept, a)
		} else {
			a.L.Close()
			e.logger.Info("edge: stopped listening", "listen", a.Addr)
		}
	}
	e.listeners = kept
	for _, a := range p.opened {
		e.listeners = append(e.listeners, a)
		if e.serving {
			e.startAccept(a)
		}
		e.logger.Info("edge: listening", "listen", a.Addr, "addr", a.L.Addr().String())
	}
	old.release()
	e.logger.Info("edge: configuration reloaded", "locations", len(cfg.Locations), "servers", len(cfg.Servers), "upstreams", len(cfg.Upstreams), "listen", cfg.Listen)
	return nil
}
