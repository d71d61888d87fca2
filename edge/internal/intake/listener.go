// Package intake is how the edge's client connections get from its
// listening sockets to its servers, so that a reload refuses, resets or
// drops none:
//
//   - The listening sockets are never closed and reopened. One accept loop
//     per socket (Listener.Accept) hands connections over a channel to
//     whichever server pair is current (a Generation).
//   - Settings that a server reads per connection (header timeout and
//     size, keep-alive timeout) need a new generation. The old one stops
//     taking new connections but keeps serving the ones it has, keep-alive
//     included, until they end on their own; it is never shut down before
//     the edge is, because shutting down closes idle connections, and an
//     idle connection may have a request on the wire (nginx's reload resets
//     exactly those).
//
// Which addresses and settings are wanted, and when to switch, is the
// edge's (its reload.go).
package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"time"
)

// Listener is one listening socket.
type Listener struct {
	Addr string // as configured
	L    net.Listener
	TLS  bool // a tls_listen address
}

// Open opens the addresses of want (TLS ones if tls) that have no
// listener in have yet. On error, what it opened is closed again.
func Open(have []*Listener, want []string, tls bool) ([]*Listener, error) {
	var lc net.ListenConfig
	var opened []*Listener
	for _, addr := range want {
		if slices.ContainsFunc(have, func(a *Listener) bool { return a.Addr == addr && a.TLS == tls }) {
			continue
		}
		l, err := lc.Listen(context.Background(), "tcp", addr)
		if err != nil {
			CloseAll(opened)
			return nil, fmt.Errorf("edge: listen on %s: %w", addr, err)
		}
		opened = append(opened, &Listener{Addr: addr, L: l, TLS: tls})
	}
	return opened, nil
}

// OpenAll opens the plain and TLS addresses that have no listener in have
// yet. On error nothing stays open.
func OpenAll(have []*Listener, plain, secure []string) ([]*Listener, error) {
	p, err := Open(have, plain, false)
	if err != nil {
		return nil, err
	}
	s, err := Open(have, secure, true)
	if err != nil {
		CloseAll(p)
		return nil, err
	}
	return append(p, s...), nil
}

// CloseAll closes the listeners' sockets.
func CloseAll(ls []*Listener) {
	for _, a := range ls {
		a.L.Close()
	}
}

// Wanted reports whether the addresses still list a's, as the same kind.
func (a *Listener) Wanted(plain, secure []string) bool {
	if a.TLS {
		return slices.Contains(secure, a.Addr)
	}
	return slices.Contains(plain, a.Addr)
}

// Addrs returns the addresses of the TLS listeners of ls, or of the others.
func Addrs(ls []*Listener, tls bool) []net.Addr {
	var out []net.Addr
	for _, a := range ls {
		if a.TLS == tls {
			out = append(out, a.L.Addr())
		}
	}
	return out
}

// Accept is a's accept loop, until its socket is closed or done is: a
// plain connection goes to conns (its head is checked by h1's parser
// itself), a TLS one to handshake, which must return at once (the
// handshake runs on; the framing tracker then checks the decrypted
// bytes).
func (a *Listener) Accept(logger *slog.Logger, done <-chan struct{}, conns chan<- net.Conn, handshake func(net.Conn)) {
	pause := 5 * time.Millisecond
	for {
		c, err := a.L.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors, or the like: wait as net/http does.
			logger.Error("edge: accept", "listen", a.Addr, "err", err, "retry_in", pause)
			select {
			case <-time.After(pause):
			case <-done:
				return
			}
			pause = min(2*pause, time.Second)
			continue
		}
		pause = 5 * time.Millisecond
		if a.TLS {
			handshake(c)
			continue
		}
		select {
		case conns <- c:
		case <-done:
			c.Close()
			return
		}
	}
}
