package cli

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/stack-web/stack/cli/internal/release"
	"github.com/stack-web/stack/config"
)

// The release phase (cli/internal/release): commands that `stack up`
// runs to completion, in order, before it opens a socket.

// defaultRelease is release when no source gives it: `stack migrate` for
// an app that has migrations, nothing for the others.
func (c *cmdEnv) defaultRelease(app string) [][]string {
	if a, ok := c.apps[app]; ok && a.Migrate != nil {
		return [][]string{{"stack", "migrate"}}
	}
	return nil
}

// runRelease runs f.Release (release.Run), each step as releaseStep.
func (c *cmdEnv) runRelease(f *config.File) error {
	return release.Run(f, release.Env{Logger: c.logger, Stderr: c.stderr, Lines: c.lineStyle(f),
		Step: func(ctx context.Context, argv []string, out io.Writer) error { return c.releaseStep(ctx, f, argv, out) }})
}

// releaseStep runs one command, its output to out. [stack, migrate], the
// default step, runs in this process: it is the same code, and a process
// of its own would cost a start (a second under the race detector, which
// sleeps at exit). With appserver.user or group, every command runs as
// the workers do, as a child with their credential: what a release writes
// (the database) is the app's, and the workers must be able to write it.
func (c *cmdEnv) releaseStep(ctx context.Context, f *config.File, argv []string, out io.Writer) error {
	cred, err := workersCredential(f)
	if err != nil {
		return err
	}
	if cred == nil && len(argv) == 2 && argv[0] == "stack" && argv[1] == "migrate" {
		return c.migrate(ctx, f, out)
	}
	return c.runChild(ctx, f, argv, cred, out)
}

// runChild runs argv (a program named stack is this binary, with the
// same configuration flags) in a process group of its own, with cred if
// not nil, its output to w, until it exits or ctx is done: then SIGTERM
// to its group, and SIGKILL after shutdown_timeout (release.RunCommand).
func (c *cmdEnv) runChild(ctx context.Context, f *config.File, argv []string, cred *syscall.Credential, w io.Writer) error {
	cmd, err := c.childCommand(ctx, f, argv, cred, true)
	if err != nil {
		return err
	}
	return release.RunCommand(ctx, cmd, startChild, w)
}

func (c *cmdEnv) migrateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Bring the app's database up to date (Django's migrate); the default release step",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := c.loadFor("app")
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			// Run by hand as root, it would make the database (and its
			// journal) root's, which the workers could not write.
			return c.asTheWorkers(f, "migrate", func() error { return c.migrate(ctx, f, c.stdout) },
				func(cred *syscall.Credential) error {
					return c.runChild(ctx, f, []string{"stack", "migrate"}, cred, c.stdout)
				})
		},
	}
}

// migrate runs the app's Migrate hook, its progress written to out.
func (c *cmdEnv) migrate(ctx context.Context, f *config.File, out io.Writer) error {
	app, ok := c.apps[f.Appserver.App]
	if !ok {
		return fmt.Errorf("appserver.app: %q is not built into this binary", f.Appserver.App)
	}
	if app.Migrate == nil {
		fmt.Fprintf(out, "stack: app %s has no migrations; nothing to do\n", app.Name)
		return nil
	}
	start := time.Now()
	env := Env{Settings: f.Apps[app.Name], RunDir: f.RunDir, Logger: c.logger.With("app", app.Name), Out: out}
	if err := app.Migrate(ctx, env); err != nil {
		return fmt.Errorf("migrate: app %s: %w", app.Name, err)
	}
	fmt.Fprintf(out, "stack: app %s migrated in %s\n", app.Name, time.Since(start).Round(time.Millisecond))
	return nil
}
