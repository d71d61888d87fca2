package cli

import (
	"errors"
	"fmt"

	"github.com/stack-web/stack/appserver"
	"github.com/stack-web/stack/config"
)

// reloadSet is what SIGHUP does: read the configuration again with the
// same file and flags and, if it is valid, hand it to every tier that can
// reload in place. An invalid configuration is refused with the messages
// `stack check` prints, and the running one keeps serving.
type reloadSet struct {
	c *cmdEnv
	// scope is what the running command validates (config.Options.Scope):
	// `stack edge` must not start refusing reloads over the app's settings.
	scope   string
	tiers   []string
	reloads []func(*config.File) error
}

// add registers one tier's reload.
func (r *reloadSet) add(tier string, fn func(*config.File) error) {
	r.tiers = append(r.tiers, tier)
	r.reloads = append(r.reloads, fn)
}

// hook returns the function for supervisor.AddSignals.
func (r *reloadSet) hook() func() {
	return func() {
		if len(r.reloads) == 0 {
			r.c.logger.Warn("SIGHUP: nothing to reload in this mode; ignoring it")
			return
		}
		f, err := r.c.loadFor(r.scope)
		if err != nil {
			var ce *config.Error
			if errors.As(err, &ce) {
				fmt.Fprintln(r.c.stderr, ce.Error()) // as `stack check` prints it
			}
			r.c.logger.Error("reload refused: the configuration is not valid; the running one stays", "err", err)
			return
		}
		for i, reload := range r.reloads {
			switch err := reload(f); {
			case errors.Is(err, appserver.ErrServerClosed):
				r.c.logger.Info("reload abandoned: stopping", "tier", r.tiers[i])
				return
			case err != nil:
				r.c.logger.Error("reload failed; this tier keeps its configuration", "tier", r.tiers[i], "err", err)
				continue
			}
			r.c.logger.Info("reloaded", "tier", r.tiers[i], "config", f.Source)
		}
	}
}
