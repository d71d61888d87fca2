package cli

import (
	"context"
	"fmt"

	"github.com/stack-web/stack/appserver/prefork"
	"github.com/stack-web/stack/cli/internal/debugkey"
	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/internal/earlyworker"
)

// A fresh stack's first request waits for the first worker process, and
// a worker is a start of this binary: runtime and package init, the
// configuration, the app. So the master is made and its first worker
// started as soon as the configuration is loaded, before the release
// runs and the sockets open (prefork.Master.Prespawn): the worker's start
// overlaps them, and it builds the app once the master hands it the
// socket (Start, in appserverTier), after the release.

// prespawned is a master whose first worker was started early, until
// appserverTier takes it.
type prespawned struct {
	master *prefork.Master
	taken  bool
}

// prespawn makes the master and starts its first worker, if this command
// runs worker processes itself; nil otherwise, or if it cannot (the
// appserver tier then reports why, as before).
func (c *cmdEnv) prespawn(f *config.File, which tiers) *prespawned {
	// The process cmd/stack started during its package init to be the
	// first worker (package earlyworker), if any: adopted or dropped here.
	early := earlyworker.Take()
	if !which.appserver || f.Appserver.Processes == 0 || c.dev != nil || (f.TiersInChildren() && which.edge) {
		early.Discard()
		return nil
	}
	if _, ok := c.apps[f.Appserver.App]; !ok {
		early.Discard()
		return nil
	}
	m, err := c.newMaster(f)
	if err != nil {
		early.Discard()
		return nil
	}
	if err := m.PrespawnEarly(early); err != nil {
		c.logger.Debug("appserver: no early worker; it starts with the master", "err", err)
		return nil
	}
	return &prespawned{master: m}
}

// take hands the master to the appserver tier; nil if there is none.
func (p *prespawned) take() *prefork.Master {
	if p == nil {
		return nil
	}
	p.taken = true
	return p.master
}

// abandon stops the early worker of a master the appserver tier never
// took (a failed release, a busy port).
func (p *prespawned) abandon() {
	if p == nil || p.taken {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p.master.Shutdown(ctx)
}

// newMaster is the appserver's master of worker processes for f.
func (c *cmdEnv) newMaster(f *config.File) (*prefork.Master, error) {
	argv, err := c.workerArgv()
	if err != nil {
		return nil, fmt.Errorf("appserver.processes: finding this binary to start workers: %w", err)
	}
	return &prefork.Master{Config: f.Appserver, Command: argv, Logger: c.logger.With("tier", "appserver"), Output: c.stderr,
		Env: debugkey.Env(), HijackGrace: f.ShutdownTimeout, Inherit: c.heldCfg.Inherit}, nil
}
