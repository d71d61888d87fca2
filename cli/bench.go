package cli

import (
	"net/http"

	"github.com/spf13/cobra"

	"github.com/stack-web/stack/cli/internal/benchcmd"
)

// benchCommand is `stack bench protocols` and the CGI way's hidden
// commands (cli/internal/benchcmd).
func (c *cmdEnv) benchCommand() *cobra.Command {
	return benchcmd.Command(benchcmd.Env{Stderr: c.stderr, ChildArgs: c.childArgs, App: func(name string) (http.Handler, error) {
		c.sets = append(c.sets, "appserver.app="+name)
		f, err := c.loadFor("app")
		if err != nil {
			return nil, err
		}
		return c.buildApp(f)
	}})
}
