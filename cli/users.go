package cli

import (
	"context"
	"fmt"
	"io"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stack-web/stack/cli/internal/usercmd"
	"github.com/stack-web/stack/config"
)

// userCommands are `stack createsuperuser` and `stack changepassword`
// (cli/internal/usercmd), on the served app's accounts. They write its
// database, so they run as `stack migrate` does (asTheWorkers): with
// appserver.user or group and as root, each runs again as a child with
// the workers' credential, which holds the dialogue.
func (c *cmdEnv) userCommands() []*cobra.Command {
	var f *config.File // read when the command runs, before the accounts are opened
	e := &usercmd.Env{Stdin: c.stdin, Stdout: c.stdout, Stderr: c.stderr, Open: func() (usercmd.Accounts, io.Closer, error) {
		users, closer, err := c.openUsers(f)
		if err != nil {
			return nil, nil, err
		}
		return users, closer, nil
	}}
	cmds := []*cobra.Command{usercmd.CreatesuperuserCommand(e), usercmd.ChangepasswordCommand(e)}
	for _, cmd := range cmds {
		dialogue := cmd.RunE
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			var err error
			if f, err = c.loadFor("app"); err != nil {
				return err
			}
			if _, err := c.usersApp(f); err != nil {
				return err // said here, not by a child
			}
			return c.asTheWorkers(f, cmd.Name(), func() error { return dialogue(cmd, args) }, func(cred *syscall.Credential) error {
				return c.runDialogue(context.Background(), f, childCommandLine(cmd, args), cred)
			})
		}
	}
	return cmds
}

// childCommandLine is cmd run again with the flags given to it and its
// arguments (after "--": a username may start with one). The password is
// never a flag: the child asks for it, or reads STACK_SUPERUSER_PASSWORD.
func childCommandLine(cmd *cobra.Command, args []string) []string {
	argv := []string{"stack", cmd.Name()}
	cmd.LocalNonPersistentFlags().VisitAll(func(fl *pflag.Flag) { // a copy of the set: Visit would see none given
		if fl.Changed {
			argv = append(argv, "--"+fl.Name+"="+fl.Value.String())
		}
	})
	return append(append(argv, "--"), args...)
}

// usersApp is the served app, if it has user accounts.
func (c *cmdEnv) usersApp(f *config.File) (App, error) {
	app, ok := c.apps[f.Appserver.App]
	if !ok {
		return App{}, fmt.Errorf("appserver.app: %q is not built into this binary", f.Appserver.App)
	}
	if app.Users == nil {
		return App{}, fmt.Errorf("app %q has no user accounts", app.Name)
	}
	return app, nil
}

// openUsers opens the accounts of f's served app.
func (c *cmdEnv) openUsers(f *config.File) (Users, io.Closer, error) {
	app, err := c.usersApp(f)
	if err != nil {
		return nil, nil, err
	}
	return app.Users(Env{Settings: f.Apps[app.Name], RunDir: f.RunDir, Logger: c.logger.With("app", app.Name)})
}
