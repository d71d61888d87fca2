package cli

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/edge"
	"github.com/stack-web/stack/supervisor"
)

// What a command runs.
type tiers struct {
	edge, appserver, processes bool
}

// scope is the command whose tiers these are, for config.Options.Scope.
func (w tiers) scope() string {
	switch {
	case w.edge && w.appserver:
		return "up"
	case w.edge:
		return "edge"
	default:
		return "appserver"
	}
}

// runStack wires the configured tiers into a supervisor and runs them
// until a signal. Every socket is opened before anything runs, so a port in
// use or a live socket is reported at once and the edge never starts in
// front of an app server that could not.
func (c *cmdEnv) runStack(f *config.File, which tiers) error {
	hups := c.takeHangups() // starthup.go: a SIGHUP during the release is a reload, a SIGTERM a stop, not an exit
	// Main's: the process exits when runStack returns. Not a tier child of
	// mode: subprocess, though: its parent's "stop now" SIGTERM, which may
	// come as it exits, ends it at once, as the parent expects.
	exits := hups != nil && !supervisor.StartedBySupervisor()
	if hups == nil {
		hups = holdStartHangups()
		defer func() { hups.stop() }() // until handed to the supervisor
	} // else Main's: held until handed to the supervisor, or to the exit (takeHangups)
	// What the children (workers, tier children) load: what was read and
	// validated here, not the file again.
	if err := c.heldCfg.Hold(f.Held); err != nil {
		return err
	}
	if err := supervisor.PrepareRunDir(f.RunDir); err != nil {
		return err
	}
	tmp := filepath.Join(f.RunDir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return fmt.Errorf("run_dir: %w", err)
	}
	// Main's signals stay caught from the stop to the exit; a caller of
	// Run (a test, a program running the stack again) gets their default
	// back when the stack has stopped.
	sup := &supervisor.Supervisor{Logger: c.logger, ShutdownTimeout: f.ShutdownTimeout, ExitAfterRun: exits}
	// What SIGHUP reloads: each tier adds itself.
	reload := &reloadSet{c: c, scope: which.scope(), sup: sup}
	reload.current.Store(f)
	// A reload racing the stop (a SIGHUP with the ^C) is dropped.
	sup.OnStopping(func() { reload.stopping.Store(true) })
	adm := c.newAdmin(f, sup, reload) // before the tiers' loggers: it keeps their warnings
	if which.appserver {
		reload.running = f
	}
	reload.supervises = which.processes
	// The tiers' loggers are made from here on (after newAdmin's).
	pre := c.prespawn(f, which) // prespawn.go: the first worker starts during the release
	defer pre.abandon()
	if sig := hups.stopHeld(); sig != nil {
		c.logger.Info("received " + sig.String() + " while starting; stopping before anything runs")
		return nil
	}
	if which.processes {
		if err := c.runRelease(f); err != nil {
			return err
		}
	}
	// A SIGHUP held in subprocess mode is moot: the children load what this process holds as they start.
	hups.handTo(sup, !f.TiersInChildren() || !which.edge || !which.appserver, reload.hook())
	hups = nil

	if f.TiersInChildren() && which.edge && which.appserver {
		done, err := c.addTierChildren(f, sup, reload)
		if err != nil {
			return err
		}
		defer done()
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
	// A tier child of mode: subprocess serves on its parent's sockets.
	inherited, err := inheritedSockets()
	if err != nil {
		return err
	}
	defer closeUntaken(inherited)

	var e *edge.Edge
	if which.edge {
		var err error
		e, err = edge.New(edgeConfig(f), tmp, c.logger.With("tier", "edge"))
		if err != nil {
			return err
		}
		cleanup = append(cleanup, func() { e.Close() })
		if err := adoptEdge(e, f, inherited); err != nil {
			return err
		}
		if err := adoptTicketSecret(e); err != nil { // tickets.go
			return err
		}
		reload.addPrepared("edge", func(f *config.File) (func() error, func(), error) {
			p, err := e.PrepareReload(edgeConfig(f))
			if err != nil {
				return nil, nil, err
			}
			return p.Commit, p.Abort, nil
		})
	}

	var app *appserverTier
	if which.appserver {
		var err error
		if app, err = c.appserverTier(f, pre, inherited); err != nil {
			return err
		}
		cleanup = append(cleanup, app.close)
		if app.master != nil {
			reload.add("appserver", func(f *config.File) error { return app.master.ReloadWith(f.Appserver) })
		}
	}

	closeUntaken(inherited) // now, not at the exit
	if e != nil {
		if err := e.Listen(); err != nil {
			return err
		}
		sup.AddServer("edge", e.Serve, e.Shutdown)
		if app == nil {
			c.tuneEdgeProcs(sup, e) // procs.go
		}
	}
	if app != nil {
		sup.AddServer("appserver", app.serve, app.shutdown)
		sup.OnStopping(app.stopping)
	}
	if c.dev != nil {
		cleanup = append(cleanup, c.dev.close)
		if err := c.dev.wire(sup, app, reload, c.stderr); err != nil {
			return err
		}
	}
	if which.processes {
		for _, p := range f.Processes {
			sup.AddProcess(&supervisor.Process{
				Name: p.Name, Command: p.Command, Dir: p.Dir, Env: p.Env, Restart: p.Restart,
				Output: c.stderr, Lines: c.lineStyle(f), Logger: c.logger.With("tier", "process"),
			})
		}
	}

	if err := adm.start(e, app); err != nil {
		return err
	}
	c.announce(f, e, app != nil, which.processes)
	c.announceTLS(e)
	return sup.Run()
}

// tierStartSecs is how long a tier child must run before its exit is
// restarted rather than fatal: a child that cannot bind or load its
// configuration exits well within it.
const tierStartSecs = 3 * time.Second

// tierMaxBackoff caps the wait before a tier child that keeps dying after
// its start (a request that crashes it, again and again) is started
// again: the connections the kernel queued on its sockets wait that long.
// A start costs a tier child ~10 ms of CPU, so once a second is cheap.
const tierMaxBackoff = time.Second

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
	return c.buildAppWith(f, c.logger)
}

func (c *cmdEnv) buildAppWith(f *config.File, logger *slog.Logger) (http.Handler, error) {
	return c.buildAppReleased(f, logger, nil)
}

// buildAppReleased is buildAppWith for an app that may be built before the
// release is over: released is its Env.Released.
func (c *cmdEnv) buildAppReleased(f *config.File, logger *slog.Logger, released func() error) (http.Handler, error) {
	app, ok := c.apps[f.Appserver.App]
	if !ok {
		return nil, fmt.Errorf("appserver.app: %q is not built into this binary (known: %s)", f.Appserver.App, strings.Join(c.apps.names(), ", "))
	}
	h, err := app.New(Env{Settings: f.Apps[app.Name], RunDir: f.RunDir, Logger: logger.With("app", app.Name), Out: io.Discard, Released: released})
	if err != nil {
		return nil, fmt.Errorf("app %s: %w", app.Name, err)
	}
	return h, nil
}

// announce says where the stack listens: the one line a newcomer needs.
func (c *cmdEnv) announce(f *config.File, e *edge.Edge, app, up bool) {
	switch {
	case e == nil && !app && up && f.Edge.Processes > 1:
		fmt.Fprintf(c.stderr, "stack: running %d edge processes and the appserver (%s) as child processes\n", f.Edge.Processes, f.Appserver.App)
	case e == nil && !app && up:
		fmt.Fprintf(c.stderr, "stack: running the edge and the appserver (%s) as child processes\n", f.Appserver.App)
	case e != nil && app:
		for _, a := range e.Addrs() {
			fmt.Fprintf(c.stderr, "stack: serving %s at http://%s/ (edge → %s %s → appserver)\n", f.Appserver.App, a, f.Appserver.Protocol, f.Appserver.Listen)
		}
	case e != nil:
		for _, a := range e.Addrs() {
			fmt.Fprintf(c.stderr, "stack: edge listening on http://%s/\n", a)
		}
	case app:
		fmt.Fprintf(c.stderr, "stack: appserver serving %s on %s %s\n", f.Appserver.App, f.Appserver.Protocol, f.Appserver.Listen)
	}
	mode := f.Mode
	if up && f.TiersInChildren() {
		mode = "subprocess"
	}
	c.logger.Info("started", "config", f.Source, "mode", mode)
}
