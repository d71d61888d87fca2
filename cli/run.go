package cli

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/stack-web/stack/appserver"
	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/supervisor"
)

// What a command runs.
type tiers struct {
	edge, appserver, processes bool
}

// runStack wires the configured tiers into a supervisor and runs them
// until a signal. Every socket is opened before anything runs, so a port in
// use or a live socket is reported at once and the edge never starts in
// front of an app server that could not.
func (c *cmdEnv) runStack(f *config.File, which tiers) error {
	if err := supervisor.PrepareRunDir(f.RunDir); err != nil {
		return err
	}
	tmp := filepath.Join(f.RunDir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return fmt.Errorf("run_dir: %w", err)
	}
	sup := &supervisor.Supervisor{Logger: c.logger, ShutdownTimeout: f.ShutdownTimeout}
	// What SIGHUP reloads: each tier adds itself (see reload).
	var reloaders []reloader

	if f.Mode == "subprocess" && which.edge && which.appserver {
		// Each tier in a child process of its own, as nginx and uWSGI run:
		// the same binary and configuration, one tier each. The edge child
		// is added first, so it is stopped (and drained) first.
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("subprocess mode: finding this binary: %w", err)
		}
		for _, tier := range []string{"edge", "appserver"} {
			sup.AddProcess(&supervisor.Process{
				Name: tier, Command: append([]string{exe, tier}, c.childArgs()...), Restart: "always",
				Output: c.stderr, Logger: c.logger.With("tier", "supervisor"),
			})
		}
		which.edge, which.appserver = false, false
	}

	var cleanup []func()
	defer func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}()

	// The edge is added first so that on the way down it drains before
	// the app server it proxies to stops.
	var e *edge.Edge
	if which.edge {
		var err error
		e, err = edge.New(f.Edge, tmp, c.logger.With("tier", "edge"))
		if err != nil {
			return err
		}
		cleanup = append(cleanup, func() { e.Close() })
		reloaders = append(reloaders, reloader{"edge", func(f *config.File) error { return e.Reload(f.Edge) }})
	}

	var srv *appserver.Server
	var appListener net.Listener
	if which.appserver {
		h, err := c.buildApp(f)
		if err != nil {
			return err
		}
		if cl, ok := h.(io.Closer); ok {
			cleanup = append(cleanup, func() { cl.Close() }) // after the appserver has stopped
		}
		appListener, err = appserver.Listen(f.Appserver.Listen, f.Appserver.SocketMode)
		if err != nil {
			return err
		}
		cleanup = append(cleanup, func() { appListener.Close() })
		srv = &appserver.Server{
			Handler:       h,
			BufferSize:    f.Appserver.BufferSize,
			Threads:       f.Appserver.Threads,
			Harakiri:      f.Appserver.Harakiri,
			SocketTimeout: f.Appserver.SocketTimeout,
			Logger:        c.logger.With("tier", "appserver"),
		}
	}

	if e != nil {
		if err := e.Listen(); err != nil {
			return err
		}
		sup.AddServer("edge", e.Serve, e.Shutdown)
	}
	if srv != nil {
		sup.AddServer("appserver", func() error {
			err := srv.Serve(appListener)
			if err == appserver.ErrServerClosed {
				return nil
			}
			return err
		}, srv.Shutdown)
	}
	if which.processes {
		for _, p := range f.Processes {
			sup.AddProcess(&supervisor.Process{
				Name: p.Name, Command: p.Command, Dir: p.Dir, Env: p.Env, Restart: p.Restart,
				Output: c.stderr, Logger: c.logger.With("tier", "process"),
			})
		}
	}

	if len(reloaders) > 0 {
		sup.AddSignals(func() { c.reload(reloaders) })
	} else {
		sup.AddSignals(nil)
	}
	c.announce(f, e, srv != nil, which.processes)
	return sup.Run()
}

// reloader applies a re-read configuration to one running tier.
type reloader struct {
	tier  string
	apply func(*config.File) error
}

// reload re-reads the configuration with the same flags and, if it is
// valid, applies it to every tier; an invalid one is refused with the
// messages of `stack check`, and the running configuration stays.
func (c *cmdEnv) reload(rs []reloader) {
	f, err := c.load()
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			fmt.Fprintln(c.stderr, ce.Error()) // as `stack check` prints it
		}
		c.logger.Error("reload refused: the configuration is not valid; the running one stays", "err", err)
		return
	}
	for _, r := range rs {
		if err := r.apply(f); err != nil {
			c.logger.Error("reload failed; this tier keeps its configuration", "tier", r.tier, "err", err)
			continue
		}
		c.logger.Info("reloaded", "tier", r.tier, "config", f.Source)
	}
}

// childArgs are the flags that give a child the same configuration.
func (c *cmdEnv) childArgs() []string {
	args := []string{"--log-level", c.logLevel}
	if c.cfgPath != "" {
		args = append(args, "--config", c.cfgPath)
	}
	for _, kv := range c.sets {
		args = append(args, "--set", kv)
	}
	return args
}

// buildApp resolves appserver.app and builds its handler.
func (c *cmdEnv) buildApp(f *config.File) (http.Handler, error) {
	app, ok := c.apps[f.Appserver.App]
	if !ok {
		return nil, fmt.Errorf("appserver.app: %q is not built into this binary (known: %s)", f.Appserver.App, strings.Join(c.apps.names(), ", "))
	}
	h, err := app.New(Env{Settings: f.Apps[app.Name], RunDir: f.RunDir, Logger: c.logger.With("app", app.Name)})
	if err != nil {
		return nil, fmt.Errorf("app %s: %w", app.Name, err)
	}
	return h, nil
}

// announce says where the stack listens: the one line a newcomer needs.
func (c *cmdEnv) announce(f *config.File, e *edge.Edge, app, up bool) {
	switch {
	case e == nil && !app && up:
		fmt.Fprintf(c.stderr, "stack: running the edge and the appserver (%s) as child processes\n", f.Appserver.App)
	case e != nil && app:
		for _, a := range e.Addrs() {
			fmt.Fprintf(c.stderr, "stack: serving %s at http://%s/ (edge → uwsgi %s → appserver)\n", f.Appserver.App, a, f.Appserver.Listen)
		}
	case e != nil:
		for _, a := range e.Addrs() {
			fmt.Fprintf(c.stderr, "stack: edge listening on http://%s/\n", a)
		}
	case app:
		fmt.Fprintf(c.stderr, "stack: appserver serving %s on uwsgi %s\n", f.Appserver.App, f.Appserver.Listen)
	}
	c.logger.Info("started", "config", f.Source, "mode", f.Mode)
}
