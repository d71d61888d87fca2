package cli

import (
	"errors"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/stack-web/stack/appserver/prefork"
	"github.com/stack-web/stack/cli/internal/debugkey"
	"github.com/stack-web/stack/cli/internal/dev"
	"github.com/stack-web/stack/devloop"
	"github.com/stack-web/stack/internal/earlyworker/launch"
)

// workerCommandName is the hidden subcommand an appserver master runs for
// each worker process. It is internal: the master passes the listening
// socket and a control channel as descriptors 3 and 4, which a user
// running it by hand would not have.
const workerCommandName = launch.WorkerCommand

func (c *cmdEnv) workerCommand() *cobra.Command {
	var devScript bool
	cmd := &cobra.Command{
		Use:    workerCommandName,
		Short:  "Internal: one worker process of the appserver's master",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := c.loadFor("worker")
			if err != nil {
				return err
			}
			debugkey.Use(f, c.logger)
			// A worker started before the master had its socket waits
			// for it: until then the release may still be running. Its
			// app may build meanwhile (workerstart.go).
			gate := &startGate{}
			var released func() error
			if c.buildsBeforeStart(f) {
				released = gate.released
			} else if started, err := gate.wait(); err != nil || !started {
				return err
			}
			h, err := c.buildAppReleased(f, c.logger, released)
			if errors.Is(err, errNoStart) {
				return nil
			}
			if err != nil {
				return err
			}
			if cl, ok := h.(io.Closer); ok {
				defer cl.Close()
			}
			if started, err := gate.wait(); err != nil || !started {
				return err
			}
			if devScript {
				h = devloop.Inject(h) // stack dev, app in debug
			}
			return prefork.RunWorker(f.Appserver, h, c.logger.With("tier", "appserver", "worker_pid", os.Getpid()))
		},
	}
	cmd.Flags().BoolVar(&devScript, dev.WorkerFlag, false, "inject stack dev's live-reload script into HTML pages")
	return cmd
}

// workerArgv is the command line that starts one worker with this
// process's configuration.
func (c *cmdEnv) workerArgv() ([]string, error) {
	if c.dev != nil {
		return c.dev.workerArgv(c.childArgs()), nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return append([]string{exe, workerCommandName}, c.childArgs()...), nil
}
