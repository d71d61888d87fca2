package cli

import (
	"context"
	"fmt"
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
// starts.
func (c *cmdEnv) appserverTier(f *config.File) (*appserverTier, error) {
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
	l, err := appserver.ListenBacklog(cfg.Listen, cfg.SocketMode, cfg.ListenBacklog)
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
	argv, err := c.workerArgv()
	if err != nil {
		t.close()
		return nil, fmt.Errorf("appserver.processes: finding this binary to start workers: %w", err)
	}
	t.master = &prefork.Master{Config: cfg, Command: argv, Logger: c.logger.With("tier", "appserver"), Output: c.stderr,
		Env: workerDebugKey(), HijackGrace: f.ShutdownTimeout}
	if err := t.master.ListenStats(); err != nil {
		t.close()
		return nil, err
	}
	// If the stack fails before the master runs, its stats socket goes too.
	t.closers = append(t.closers, func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		t.master.Shutdown(ctx)
	})
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

func (t *appserverTier) close() {
	for i := len(t.closers) - 1; i >= 0; i-- {
		t.closers[i]()
	}
}
