package appserver

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/stack-web/stack/appserver/internal/stdserver"
)

// Service is a server of one protocol on a listener: *Server (uwsgi),
// *FCGIServer (FastCGI) or *HTTPServer (HTTP/1.1). appserver.protocol picks
// one (NewService); the prefork workers run whichever it is.
type Service interface {
	// Serve accepts on l until Shutdown; then it returns ErrServerClosed.
	Serve(l net.Listener) error
	// Shutdown stops accepting and waits for the requests in flight, or
	// for ctx to end.
	Shutdown(ctx context.Context) error
	// Requests reports how many requests it has answered.
	Requests() uint64
}

// Hooks are what a worker process adds to a Service: its statistics and
// its harakiri exit.
type Hooks struct {
	OnRequest  func(d time.Duration, written int64, panicked bool)
	OnHarakiri func(method, uri string)
	// OnHijack is called with the request (as the handler got it) whose
	// handler took its connection over: from there it is no request that
	// harakiri, or the master's backstop, may count as overdue.
	OnHijack func(r *http.Request)
}

// NewService builds the server of cfg.Protocol around h.
func NewService(cfg Config, h http.Handler, logger *slog.Logger, hooks Hooks) Service {
	var svc Service
	opts := stdserver.Options{Threads: cfg.Threads, Harakiri: cfg.Harakiri, SocketTimeout: cfg.SocketTimeout, Logger: logger,
		OnRequest: hooks.OnRequest, OnHarakiri: hooks.OnHarakiri, OnHijack: hooks.OnHijack}
	switch cfg.Protocol {
	case "fastcgi":
		svc = stdserver.NewFCGIServer(h, opts)
	case "http":
		svc = stdserver.NewHTTPServer(h, opts)
	}
	if svc != nil {
		if allow := cfg.AllowPrefixes(); len(allow) > 0 {
			if logger == nil {
				logger = slog.Default()
			}
			svc = allowService{Service: svc, allow: allow, logger: logger}
		}
		return svc
	}
	return &Server{Handler: h, BufferSize: cfg.BufferSize, Threads: cfg.Threads, Harakiri: cfg.Harakiri,
		QueueTimeout: cfg.QueueTimeout, SocketTimeout: cfg.SocketTimeout, LogRequests: cfg.LogRequests,
		Allow: cfg.AllowPrefixes(), Logger: logger,
		OnRequest: hooks.OnRequest, OnHarakiri: hooks.OnHarakiri, OnHijack: hooks.OnHijack}
}

// FCGIServer serves FastCGI (nginx's fastcgi_pass, the edge's protocol:
// fastcgi) with net/http/fcgi, adding what the appserver owes every
// protocol: threads, harakiri, panics answered 500, a worker's hooks and a
// graceful Shutdown (package internal/stdserver).
type FCGIServer = stdserver.FCGIServer

// NewFCGIServer returns a FastCGI server of h with the default settings.
func NewFCGIServer(h http.Handler) *FCGIServer {
	return stdserver.NewFCGIServer(h, stdserver.Options{})
}

// HTTPServer serves HTTP/1.1 with keep-alive (the edge's protocol: http)
// with net/http's server, adding threads, harakiri and a worker's hooks
// (package internal/stdserver).
type HTTPServer = stdserver.HTTPServer
