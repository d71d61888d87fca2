package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/stack-web/stack/cli/internal/usercmd"
)

// userCommands are `stack createsuperuser` and `stack changepassword`
// (cli/internal/usercmd), on the served app's accounts.
func (c *cmdEnv) userCommands() []*cobra.Command {
	e := &usercmd.Env{Stdin: c.stdin, Stdout: c.stdout, Stderr: c.stderr, Open: func() (usercmd.Accounts, io.Closer, error) {
		users, closer, err := c.openUsers()
		if err != nil {
			return nil, nil, err
		}
		return users, closer, nil
	}}
	return []*cobra.Command{usercmd.CreatesuperuserCommand(e), usercmd.ChangepasswordCommand(e)}
}

// openUsers loads the configuration (the served app's settings only) and
// opens that app's accounts.
func (c *cmdEnv) openUsers() (Users, io.Closer, error) {
	f, err := c.loadFor("app")
	if err != nil {
		return nil, nil, err
	}
	app, ok := c.apps[f.Appserver.App]
	if !ok {
		return nil, nil, fmt.Errorf("appserver.app: %q is not built into this binary", f.Appserver.App)
	}
	if app.Users == nil {
		return nil, nil, fmt.Errorf("app %q has no user accounts", app.Name)
	}
	return app.Users(Env{Settings: f.Apps[app.Name], RunDir: f.RunDir, Logger: c.logger.With("app", app.Name)})
}
