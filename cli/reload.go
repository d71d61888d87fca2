package cli

import (
	"errors"

	"github.com/stack-web/stack/appserver"
	"github.com/stack-web/stack/config"
)

// reloadSet is what SIGHUP does: read the configuration again and, if it
// is valid, hand it to every tier that can reload in place. An invalid
// configuration is refused with the messages `stack check` prints, and the
// running one keeps serving.
type reloadSet struct {
	c *cmdEnv
	// scope is what the running command validates (config.Options.Scope):
	// `stack edge` must not start refusing reloads over the app's settings.
	scope string
	fns   []func(*config.File) error
}

func (r *reloadSet) add(fn func(*config.File) error) { r.fns = append(r.fns, fn) }

// hook returns the function for supervisor.AddSignals (nil when nothing
// can reload, which makes the supervisor say so on SIGHUP).
func (r *reloadSet) hook() func() {
	return func() {
		if len(r.fns) == 0 {
			r.c.logger.Warn("SIGHUP: nothing to reload in this mode; ignoring it")
			return
		}
		f, err := r.c.loadFor(r.scope)
		if err != nil {
			r.c.logger.Error("SIGHUP: the configuration is not valid; the running one keeps serving", "err", err)
			return
		}
		for _, fn := range r.fns {
			switch err := fn(f); {
			case errors.Is(err, appserver.ErrServerClosed):
				r.c.logger.Info("SIGHUP: reload abandoned: stopping")
				return
			case err != nil:
				r.c.logger.Error("SIGHUP: reload failed", "err", err)
			}
		}
	}
}
