package cli

import (
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/stack-web/stack/appserver"
	"github.com/stack-web/stack/config"
)

// workerCommandName is the hidden subcommand an appserver master runs for
// each worker process. It is internal: the master passes the listening
// socket and a control channel as descriptors 3 and 4, which a user
// running it by hand would not have.
const workerCommandName = "appserver-worker"

func (c *cmdEnv) workerCommand() *cobra.Command {
	return &cobra.Command{
		Use:    workerCommandName,
		Short:  "Internal: one worker process of the appserver's master",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := c.load()
			if err != nil {
				return err
			}
			h, err := c.buildApp(f)
			if err != nil {
				return err
			}
			if cl, ok := h.(io.Closer); ok {
				defer cl.Close()
			}
			return appserver.RunWorker(f.Appserver, h, c.logger.With("tier", "appserver", "worker_pid", os.Getpid()))
		},
	}
}

// workerArgv is the command line that starts one worker with this
// process's configuration.
func (c *cmdEnv) workerArgv() ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return append([]string{exe, workerCommandName}, c.childArgs()...), nil
}

// reloadSet is what SIGHUP does: read the configuration again and, if it
// is valid, hand it to every tier that can reload in place. An invalid
// configuration is refused with the messages `stack check` prints, and the
// running one keeps serving.
type reloadSet struct {
	c   *cmdEnv
	fns []func(*config.File) error
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
		f, err := r.c.load()
		if err != nil {
			r.c.logger.Error("SIGHUP: the configuration is not valid; the running one keeps serving", "err", err)
			return
		}
		for _, fn := range r.fns {
			if err := fn(f); err != nil {
				r.c.logger.Error("SIGHUP: reload failed", "err", err)
			}
		}
	}
}
