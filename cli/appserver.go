package cli

import (
	"context"
	"io"
	"net"

	"github.com/stack-web/stack/appserver"
	"github.com/stack-web/stack/appserver/prefork"
	"github.com/stack-web/stack/config"
)

// appserverTier is the appserver as the supervisor runs it: an in-process
// Server (processes: 0) or a Master of worker processes.
type appserverTier struct {
	listener net.Listener
	server   appserver.Service
	master   *prefork.Master
	closers  []func()
}

// appserverTier opens the appserver's socket and builds its server. With
// worker processes the master does not build the app (the workers do);
// it only checks that the app exists, so a typo fails before anything
// starts. pre, if not nil, is the master with its first worker started
// already (prespawn.go); it is handed the socket here, as soon as it is
// open.
// inherited are the sockets a tier child of mode: subprocess got from its
// parent (held.go).
func (c *cmdEnv) appserverTier(f *config.File, pre *prespawned, inherited []inheritedSocket) (*appserverTier, error) {
	t := &appserverTier{}
	cfg := f.Appserver
	var server appserver.Service
	if cfg.Processes == 0 {
		h, err := c.buildApp(f)
		if err != nil {
			return nil, err
		}
		if cl, ok := h.(io.Closer); ok {
			t.closers = append(t.closers, func() { cl.Close() }) // after the appserver has stopped
		}
		server = appserver.NewService(cfg, h, c.logger.With("tier", "appserver"), appserver.Hooks{})
	} else if _, ok := c.apps[cfg.App]; !ok {
		_, err := c.buildApp(f) // for its message naming the known apps
		return nil, err
	}
	l, err := appListener(f, inherited) // held.go
	if err != nil {
		t.close()
		return nil, err
	}
	t.listener = l
	t.closers = append(t.closers, func() { l.Close() })
	if server != nil {
		t.server = server
		return t, nil
	}
	if t.master = pre.take(); t.master == nil {
		if t.master, err = c.newMaster(f); err != nil {
			t.close()
			return nil, err
		}
	}
	// If the stack fails before the master runs, its stats socket and its
	// workers go too.
	t.closers = append(t.closers, func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		t.master.Shutdown(ctx)
	})
	if err := t.master.ListenStats(); err != nil {
		t.close()
		return nil, err
	}
	// The prespawned worker has waited for this socket since the release:
	// it gets it now, not once the edge and the admin listen (the
	// master's own line still comes after the stack's, from Serve).
	if pre != nil {
		if err := t.master.Start(l); err != nil {
			t.close()
			return nil, err
		}
	}
	return t, nil
}

func (t *appserverTier) serve() error {
	var err error
	if t.master != nil {
		err = t.master.Serve(t.listener)
	} else {
		err = t.server.Serve(t.listener)
	}
	if err == appserver.ErrServerClosed {
		return nil
	}
	return err
}

func (t *appserverTier) shutdown(ctx context.Context) error {
	if t.master != nil {
		return t.master.Shutdown(ctx)
	}
	return t.server.Shutdown(ctx)
}

// stopping tells the master, at the stop's first moment, that the stop
// has begun: its Shutdown comes only once the edge has drained, and until
// then it must start no worker (a respawn would be drained for nothing,
// and a worker that the stop's own signal killed as it started would be
// called a crash and respawned).
func (t *appserverTier) stopping() {
	if t.master != nil {
		t.master.BeginStop()
	}
}

func (t *appserverTier) close() {
	for i := len(t.closers) - 1; i >= 0; i-- {
		t.closers[i]()
	}
}
