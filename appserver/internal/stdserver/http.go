package stdserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// HTTPServer serves HTTP/1.1 with keep-alive (the edge's protocol: http)
// with net/http's server, adding threads, harakiri and a worker's hooks.
type HTTPServer struct {
	guard handlerGuard
	once  sync.Once
	srv   *http.Server
	fresh freshConns // fresh.go
}

// NewHTTPServer returns an HTTP server of h.
func NewHTTPServer(h http.Handler, o Options) *HTTPServer {
	return &HTTPServer{guard: handlerGuard{Handler: h, Options: o}}
}

func (s *HTTPServer) server() *http.Server {
	s.once.Do(func() {
		s.srv = &http.Server{Handler: &s.guard, ReadHeaderTimeout: 60 * time.Second, IdleTimeout: 75 * time.Second}
		if s.guard.Logger != nil {
			s.srv.ErrorLog = slog.NewLogLogger(s.guard.Logger.Handler(), slog.LevelWarn)
		}
	})
	return s.srv
}

// Serve serves HTTP on l until Shutdown.
func (s *HTTPServer) Serve(l net.Listener) error {
	err := s.server().Serve(freshListener{l, &s.fresh})
	if errors.Is(err, http.ErrServerClosed) {
		return ErrServerClosed
	}
	return err
}

// Shutdown stops accepting, closes idle connections and waits for the rest.
// Requests reports how many requests it has answered.
func (s *HTTPServer) Requests() uint64 { return s.guard.served.Load() }

func (s *HTTPServer) Shutdown(ctx context.Context) error {
	silent := time.AfterFunc(FreshGrace, s.fresh.stop) // fresh.go
	defer silent.Stop()
	err := s.server().Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	// net/http's Shutdown does not see hijacked connections.
	return errors.Join(err, s.guard.hijacks.Shutdown(ctx, s.guard.logger()))
}

// CloseHijacked is Server's, over http.
func (s *HTTPServer) CloseHijacked() int { return s.guard.hijacks.CloseAll() }
