package cli

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/supervisor"
)

// addTierChildren runs each tier in a child process of its own, as nginx
// and uWSGI run (mode: subprocess, or edge.processes above 1): the same
// binary and configuration, one tier each, and edge.processes children
// for the edge, all accepting on the sockets this process holds. The edge's
// children are added first, so they are stopped (and drained) first. done
// releases the sockets once the children are gone (sup.Run waits for them).
func (c *cmdEnv) addTierChildren(f *config.File, sup *supervisor.Supervisor, reload *reloadSet) (done func(), err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("subprocess mode: finding this binary: %w", err)
	}
	// This process holds the tiers' sockets across the children's
	// restarts (held.go).
	held, err := holdSockets(f)
	if err != nil {
		return nil, err
	}
	// One TLS session ticket secret for all the edge's children (tickets.go).
	tickets, err := newTicketSecret()
	if err != nil {
		held.close()
		return nil, err
	}
	done = func() {
		removeChildAdminSockets(f, c.logger)
		held.close()
		tickets.close()
	}
	// Once the edge's children stop accepting, its addresses refuse.
	sup.OnStopping(func() { held.closeKind(false) })
	child := func(tier, name string, n int, args, env []string) *supervisor.Process {
		p := &supervisor.Process{
			Name: name, Command: append(append(append([]string{exe, tier}, c.childArgs()...), childAdmin(f, name)...), args...),
			Env: env, Restart: "always", StartSecs: tierStartSecs, MaxBackoff: tierMaxBackoff, Output: c.stderr, Logger: c.logger.With("tier", "supervisor"),
			SignalReady: true, // a reload waits until the child handles SIGHUP (starthup.go)
			Inherit:     c.inheritBoth(held.inherit(tier, n)),
		}
		p.Lines = c.lineStyle(f)
		return p
	}
	var edges []*supervisor.Process
	for i, name := range edgeChildNames(f) {
		// Each is one process of the edge's: `stack edge` refuses more.
		p := child("edge", name, i, []string{"--set", "edge.processes=1"}, edgeChildEnv(f.Edge.Processes))
		p.Inherit = tickets.inherit(p.Inherit)
		edges = append(edges, p)
	}
	sup.AddProcesses(edges...) // stopped (and drained) together
	// The children load the configuration this process has just taken
	// (reload.go), having refused an invalid one. The edge's new addresses
	// are tried first, as the edge in this process opens them before any
	// tier takes a reload.
	reload.addPrepared("edge", func(f *config.File) (func() error, func(), error) {
		if err := held.prepareEdge(f); err != nil {
			return nil, nil, err
		}
		return func() error {
			held.reloadEdge(f)
			var errs []error
			for _, p := range edges {
				errs = append(errs, p.Signal(syscall.SIGHUP))
			}
			return errors.Join(errs...)
		}, func() {}, nil
	})
	// Interrupted once the edge's children have stopped, just before the
	// appserver child is told to: its socket file goes then, as when the
	// appserver stops in this process.
	stop := make(chan struct{})
	sup.Add(func() error { <-stop; return nil }, func(error) { held.closeKind(true); close(stop) })
	app := child("appserver", "appserver", 0, nil, nil)
	sup.AddProcess(app)
	reload.add("appserver", func(*config.File) error { return app.Signal(syscall.SIGHUP) })
	return done, nil
}

// edgeChildEnv gives each of n edge processes its share of the CPUs, as
// the appserver's workers get theirs: one scheduler thread a CPU in all.
// GOMAXPROCS set in the environment is kept.
func edgeChildEnv(n int) []string {
	if n < 2 || os.Getenv("GOMAXPROCS") != "" {
		return nil
	}
	return []string{"GOMAXPROCS=" + strconv.Itoa(max(1, (runtime.GOMAXPROCS(0)+n-1)/n))}
}
