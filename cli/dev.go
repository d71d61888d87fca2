package cli

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stack-web/stack/cli/internal/dev"
	"github.com/stack-web/stack/config"
	"github.com/stack-web/stack/supervisor"
)

// devState is what `stack dev` adds to the stack that runStack wires
// (cli/internal/dev), with the parts of the stack it reaches into.
type devState struct{ s *dev.State }

func (c *cmdEnv) devCommand() *cobra.Command {
	var pkg, ldflags string
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the stack for development: rebuild on a Go change, reload on a template or static change, refresh the open pages",
		Long: `dev runs the whole stack, edge and appserver, from the program in this
directory (run it in your project: go run . dev). It builds the program
with go build into run_dir/dev/app, and the appserver's workers run that
build. It then watches the project's files:

  - a .go file, go.mod, go.sum or an embedded file changed: rebuild, then
    chain-reload the workers on the new build; the edge keeps its clients'
    connections. A failed build is printed here (and, with the app's debug
    on, shown over the page), while the last good build keeps serving;
  - a template changed: no rebuild (in debug the workers re-read it);
  - a file under an edge static root changed: nothing to rebuild.

With the app's debug on, HTML pages get a small script that reloads them
after each of these (server-sent events at /__stack/dev/events).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if v, _ := cmd.Flags().GetStringSlice("listen"); len(v) > 0 {
				c.sets = append(c.sets, "edge.listen="+strings.Join(v, ","))
			}
			// The dev loop reloads the workers of an in-process master, and
			// serves its page-reload events from the edge in this process:
			// one edge process (more would run the tiers as children).
			c.sets = append(c.sets, "mode=inprocess", "edge.processes=1")
			f, err := c.loadFor("up")
			if err != nil {
				return err
			}
			if f.Appserver.Processes == 0 {
				c.sets = append(c.sets, "appserver.processes=1")
				if f, err = c.loadFor("up"); err != nil {
					return err
				}
			}
			for _, w := range f.Warnings {
				c.logger.Warn(w)
			}
			d, err := c.newDev(context.Background(), f, pkg, ldflags)
			if err != nil {
				return err
			}
			c.dev = d
			return c.runStack(f, tiers{edge: true, appserver: true, processes: true})
		},
	}
	cmd.Flags().StringVar(&pkg, "package", ".", "the main package to build (go build's argument)")
	// Without DWARF the link takes about half as long, and the link is
	// most of a rebuild; panics still print their stack traces.
	cmd.Flags().StringVar(&ldflags, "ldflags", "-s -w", "go build's -ldflags for the dev builds (\"\" keeps the debug information, for a debugger)")
	cmd.Flags().StringSlice("listen", nil, "edge addresses, overriding edge.listen")
	return cmd
}

// newDev makes the first build and prepares the loop (dev.New).
func (c *cmdEnv) newDev(ctx context.Context, f *config.File, pkg, ldflags string) (*devState, error) {
	s, err := dev.New(ctx, f, pkg, ldflags, c.logger, c.stderr)
	if err != nil {
		return nil, err
	}
	return &devState{s}, nil
}

// adjust adds dev's own location to a configuration, at start and on
// each reload.
func (d *devState) adjust(f *config.File) { d.s.Adjust(f) }

// wire adds the loop to the stack, with the appserver's chain reload as
// the loop's restart and SIGHUP's reload for a change to the
// configuration file.
func (d *devState) wire(sup *supervisor.Supervisor, app *appserverTier, reload *reloadSet, stderr io.Writer) error {
	restart := func() error {
		if app == nil || app.master == nil {
			return errors.New("no appserver master to reload")
		}
		return app.master.Reload()
	}
	return d.s.Wire(sup, restart, reload.reload, stderr)
}

// close releases what wire opened.
func (d *devState) close() { d.s.Close() }

// workerArgv is the dev workers' command: the last good build.
func (d *devState) workerArgv(childArgs []string) []string {
	return d.s.WorkerArgv(workerCommandName, childArgs)
}
